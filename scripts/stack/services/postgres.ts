import { spawnSync } from 'node:child_process';
import { accessSync, chownSync, constants, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, symlinkSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import pg from 'pg';
import type { ServiceContext, ServiceSpec } from '../service.ts';

/** Databases every stack has: Ordeal's own state, and the reference payment system's. */
export const STACK_DATABASES = ['ordeal'];

export const postgres: ServiceSpec = {
  name: 'postgres',
  description: 'PostgreSQL 15 (system of record)',
  ports: ['postgres'],
  proxy: { name: 'postgres', listen: 'postgres_proxy', upstream: 'postgres' },
  url: (c) => `postgres://postgres@127.0.0.1:${c.ports.postgres_proxy}/ordeal`,
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
      args: ['-D', clusterDir(ctx), '-p', String(ctx.config.ports.postgres), '-c', 'listen_addresses=127.0.0.1',
        '-c', 'unix_socket_directories=', '-c', 'max_connections=300', '-c', 'shared_buffers=256MB'],
      uid,
      gid,
      cwd: clusterDir(ctx),
    };
  },
  async ready(ctx) {
    const client = new pg.Client({ host: '127.0.0.1', port: ctx.config.ports.postgres, user: 'postgres',
      database: 'postgres', connectionTimeoutMillis: 2000 });
    await client.connect();
    try {
      await client.query('SELECT 1');
      const have = await client.query<{ datname: string }>('SELECT datname FROM pg_database');
      for (const db of STACK_DATABASES) {
        if (!have.rows.some((r) => r.datname === db)) await client.query(`CREATE DATABASE ${db}`);
      }
    } finally {
      await client.end();
    }
  },
  stopSignal: 'SIGINT', // fast shutdown: roll back open transactions, checkpoint, exit
  stopGraceMs: 20000,
};

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
  if (here?.isDirectory()) return ctx.dataDir;
  if (traversableByOthers(dirname(ctx.dataDir))) return ctx.dataDir;
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
