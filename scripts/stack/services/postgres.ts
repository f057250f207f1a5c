import { spawnSync } from 'node:child_process';
import { accessSync, chownSync, constants, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmdirSync, statSync, symlinkSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import pg from 'pg';
import type { PortName, StackConfig } from '../config.ts';
import type { ProxyRoute, ServiceContext, ServiceSpec } from '../service.ts';

/**
 * Two PostgreSQL clusters: `postgres` is the system under test's database (behind
 * Toxiproxy, and the target of database faults); `ordeal-db` holds Ordeal's own
 * state (ledger, outcome log, fault leases), so that killing the system's database
 * never takes the harness's records with it.
 */
export const postgres = postgresCluster({
  name: 'postgres',
  description: 'PostgreSQL 15: the system under test\'s database (via toxiproxy)',
  port: 'postgres',
  proxy: { name: 'postgres', listen: 'postgres_proxy', upstream: 'postgres' },
  databases: ['payments'],
});

export const ordealDb = postgresCluster({
  name: 'ordeal-db',
  description: 'PostgreSQL 15: Ordeal\'s own state (ledger, outcomes, fault leases)',
  port: 'ordeal_db',
  databases: ['ordeal'],
});

/** The connection string of Ordeal's own database. */
export const ordealDbUrl = (c: StackConfig) => `postgres://postgres@127.0.0.1:${c.ports.ordeal_db}/ordeal`;

function postgresCluster(o: { name: string; description: string; port: PortName; proxy?: ProxyRoute; databases: string[] }): ServiceSpec {
  return {
    name: o.name,
    description: o.description,
    ports: [o.port],
    ...(o.proxy ? { proxy: o.proxy } : {}),
    url: (c) => `postgres://postgres@127.0.0.1:${c.ports[o.proxy ? o.proxy.listen : o.port]}/${o.databases[0]}`,
    async prepare(ctx) {
      const dir = clusterDir(ctx);
      if (existsSync(join(dir, 'PG_VERSION'))) return;
      const { uid, gid } = postgresUser();
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      chownSync(dir, uid, gid);
      const res = spawnSync(join(binDir(), 'initdb'), ['-D', dir, '-A', 'trust', '-E', 'UTF8', '--no-locale', '-U', 'postgres'],
        { uid, gid, encoding: 'utf8', cwd: dir });
      if (res.status !== 0) throw new Error(`initdb failed (exit ${res.status}): ${res.stderr || res.error?.message}`);
    },
    // PostgreSQL refuses to run as root, so the process runs as the postgres user.
    // No unix socket: clients use TCP on loopback only.
    launch(ctx) {
      const { uid, gid } = postgresUser();
      return {
        file: join(binDir(), 'postgres'),
        args: ['-D', clusterDir(ctx), '-p', String(ctx.config.ports[o.port]), '-c', 'listen_addresses=127.0.0.1',
          '-c', 'unix_socket_directories=', '-c', 'max_connections=300', '-c', 'shared_buffers=256MB'],
        uid,
        gid,
        cwd: clusterDir(ctx),
      };
    },
    async ready(ctx) {
      const client = new pg.Client({ host: '127.0.0.1', port: ctx.config.ports[o.port], user: 'postgres',
        database: 'postgres', connectionTimeoutMillis: 2000 });
      await client.connect();
      try {
        await client.query('SELECT 1');
        const have = await client.query<{ datname: string }>('SELECT datname FROM pg_database');
        for (const db of o.databases) {
          if (!have.rows.some((r) => r.datname === db)) await client.query(`CREATE DATABASE ${db}`);
        }
      } finally {
        await client.end();
      }
    },
    stopSignal: 'SIGINT', // fast shutdown: roll back open transactions, checkpoint, exit
    stopGraceMs: 20000,
  };
}

function binDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'postgres'))) : [];
  versions.sort((a, b) => Number(b) - Number(a));
  if (!versions[0]) throw new Error(`no PostgreSQL server under ${root}: run scripts/bootstrap`);
  return join(root, versions[0], 'bin');
}

let cachedUser: { uid: number; gid: number } | undefined;
function postgresUser(): { uid: number; gid: number } {
  if (cachedUser) return cachedUser;
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error('no postgres user on this machine: run scripts/bootstrap (it installs postgresql-15)');
  const [, , uid, gid] = line.split(':');
  cachedUser = { uid: Number(uid), gid: Number(gid) };
  return cachedUser;
}

/**
 * The cluster lives in <home>/data/postgres when the postgres user can reach it.
 * A home below a private folder (e.g. a clone under /root) is not reachable, so the
 * cluster then lives in /var/tmp, keyed by the home's path, behind a symlink.
 */
function clusterDir(ctx: ServiceContext): string {
  const here = lstatSync(ctx.dataDir, { throwIfNoEntry: false });
  if (here?.isSymbolicLink()) return readlinkSync(ctx.dataDir);
  const reachable = traversableByOthers(dirname(ctx.dataDir));
  if (reachable || (here?.isDirectory() && readdirSync(ctx.dataDir).length > 0)) return ctx.dataDir;
  if (here?.isDirectory()) rmdirSync(ctx.dataDir); // the supervisor's empty placeholder
  const key = createHash('sha256').update(ctx.dataDir).digest('hex').slice(0, 12);
  const outside = join('/var/tmp', `ordeal-postgres-${key}`);
  mkdirSync(dirname(ctx.dataDir), { recursive: true });
  symlinkSync(outside, ctx.dataDir);
  return outside;
}

function traversableByOthers(dir: string): boolean {
  mkdirSync(dir, { recursive: true });
  for (let d = dir; ; d = dirname(d)) {
    try {
      accessSync(d, constants.F_OK);
      if ((statSync(d).mode & 0o001) === 0) return false;
    } catch {
      return false;
    }
    if (d === dirname(d)) return true;
  }
}
