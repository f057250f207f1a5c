// The foreign system of the tests: acme-pay (Go, test/foreign/acme-pay) and its own
// PostgreSQL cluster, started the way a user starts their services (a shell command,
// a pid file), never by Ordeal's stack supervisor. The system file that declares them
// is what Ordeal knows of them.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chownSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { stringify } from 'yaml';
import { findService, readyOnce } from '../../activities/faults/process/index.ts';
import type { ProcessServiceDecl, SystemFile } from '../../activities/system/index.ts';
import { loadStackConfig, repoRoot } from '../../scripts/stack/config.ts';

const config = loadStackConfig();
const offset = Number(process.env.ORDEAL_PORT_OFFSET ?? 0);
/**
 * The foreign system's ports, out of the stack's ranges, shifted like the stack's,
 * and below the kernel's ephemeral range (32768-60999): a client that retries a
 * connection to a port in that range while nothing listens can connect the socket to
 * itself (TCP simultaneous open) and then holds the port, so the restarted service
 * cannot bind it.
 */
export const acmePorts = { db: 31000 + offset, pay: 31010 + offset, payFixed: 31011 + offset, dbProxy: 31020 + offset, payProxy: 31021 + offset };
/** Its data, logs and pid files: beside the test stack's. */
export const acmeHome = join(config.home, 'foreign');

const source = join(repoRoot, 'test', 'foreign', 'acme-pay');

/** Builds acme-pay once per source version (cached under .ordeal/foreign/bin). */
export function buildAcmePay(): string {
  const hash = createHash('sha256');
  for (const f of ['main.go', 'go.mod', 'go.sum']) hash.update(readFileSync(join(source, f)));
  const bin = join(repoRoot, '.ordeal', 'foreign', 'bin', `acme-pay-${hash.digest('hex').slice(0, 12)}`);
  if (!existsSync(bin)) {
    mkdirSync(join(bin, '..'), { recursive: true });
    const res = spawnSync('go', ['build', '-o', bin, '.'], { cwd: source, encoding: 'utf8', env: { ...process.env, GOFLAGS: '-buildvcs=false -mod=readonly' } });
    if (res.status !== 0) throw new Error(`go build of acme-pay failed (exit ${res.status}): ${res.stderr || res.error?.message}`);
  }
  return bin;
}

function pgBin(): string {
  const root = '/usr/lib/postgresql';
  const v = readdirSync(root).filter((x) => existsSync(join(root, x, 'bin', 'pg_ctl'))).sort((a, b) => Number(b) - Number(a))[0];
  if (!v) throw new Error(`no PostgreSQL under ${root}`);
  return join(root, v, 'bin');
}

function postgresUser(): { uid: number; gid: number } {
  return { uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })), gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })) };
}

/** The declaration of acme's PostgreSQL: its postmaster.pid, restarted by pg_ctl. */
export function acmeDbDecl(): ProcessServiceDecl {
  const dir = join(acmeHome, 'pgdata');
  const opts = `-p ${acmePorts.db} -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c max_connections=100`;
  return {
    kind: 'process',
    pid_file: join(dir, 'postmaster.pid'),
    // As root, PostgreSQL runs as the postgres user (it refuses root).
    start: `exec runuser -u postgres -- ${pgBin()}/pg_ctl -D ${dir} -l ${join(acmeHome, 'acme-db.log')} -w -t 60 -o "${opts}" start`,
    ready: { tcp: `127.0.0.1:${acmePorts.db}` },
  };
}

export function acmePayDecl(o: { name: string; port: number; bug: boolean; dbPort?: number; settleMs?: number }): ProcessServiceDecl {
  const bin = buildAcmePay();
  const pidFile = join(acmeHome, `${o.name}.pid`);
  return {
    kind: 'process',
    pid_file: pidFile,
    start: `exec ${bin} >> ${join(acmeHome, `${o.name}.log`)} 2>&1`,
    cwd: acmeHome,
    env: {
      ACME_LISTEN: `127.0.0.1:${o.port}`,
      ACME_DATABASE_URL: `postgres://postgres@127.0.0.1:${o.dbPort ?? acmePorts.db}/acme`,
      ACME_PID_FILE: pidFile,
      ACME_IDEMPOTENCY: o.bug ? 'memory' : 'db',
      ACME_SETTLE_MS: String(o.settleMs ?? 0),
    },
    ready: { http: `http://127.0.0.1:${o.port}/healthz` },
    url: `http://127.0.0.1:${o.port}`,
  };
}

/** acme's system file: the buggy service, its fixed twin, their database, one proxy in front of the database. */
export function acmeSystem(o: { settleMs?: number; throughProxy?: boolean } = {}): SystemFile {
  const dbPort = o.throughProxy ? acmePorts.dbProxy : acmePorts.db;
  return {
    name: 'acme',
    services: {
      'acme-pay': acmePayDecl({ name: 'acme-pay', port: acmePorts.pay, bug: true, dbPort, settleMs: o.settleMs }),
      'acme-pay-fixed': acmePayDecl({ name: 'acme-pay-fixed', port: acmePorts.payFixed, bug: false, dbPort, settleMs: o.settleMs }),
      'acme-db': acmeDbDecl(),
    },
    proxies: { 'acme-db': { listen: `127.0.0.1:${acmePorts.dbProxy}`, upstream: `127.0.0.1:${acmePorts.db}` } },
  };
}

/** Writes the system file as a user would keep it; returns its path. */
export function writeSystemFile(system: SystemFile, name = 'acme.system.yaml'): string {
  mkdirSync(acmeHome, { recursive: true });
  const path = join(acmeHome, name);
  writeFileSync(path, stringify(system));
  return path;
}

async function waitReady(name: string, decl: ProcessServiceDecl, ms = 60_000): Promise<number> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const proc = findService(name, decl);
    if (proc && decl.ready) {
      if ((await readyOnce(decl.ready)).ok) return proc.pid;
    }
    await sleep(100);
  }
  throw new Error(`${name} did not become ready in ${ms} ms`);
}

/** Starts a service by its declared start command, as its owner would; waits until ready. */
export async function startService(name: string, decl: ProcessServiceDecl): Promise<number> {
  const running = findService(name, decl);
  if (running) return running.pid;
  mkdirSync(acmeHome, { recursive: true });
  const fd = openSync(join(acmeHome, `${name}.start.log`), 'a');
  try {
    spawn('/bin/sh', ['-c', decl.start!], { cwd: decl.cwd, env: { ...process.env, ...decl.env }, detached: true, stdio: ['ignore', fd, fd] }).unref();
  } finally {
    closeSync(fd);
  }
  return waitReady(name, decl);
}

/** Stops a service by its pid (SIGTERM, then SIGKILL): the owner's `kill $(cat pidfile)`. */
export async function stopService(name: string, decl: ProcessServiceDecl): Promise<void> {
  const proc = findService(name, decl);
  if (!proc) return;
  try { process.kill(proc.pid, 'SIGTERM'); } catch { return; }
  for (let i = 0; i < 100 && findService(name, decl)?.pid === proc.pid; i++) await sleep(100);
  if (findService(name, decl)?.pid === proc.pid) process.kill(proc.pid, 'SIGKILL');
}

/** acme's PostgreSQL: initdb'd on first use, started by pg_ctl, with the `acme` database. */
export async function startAcmeDb(): Promise<void> {
  const dir = join(acmeHome, 'pgdata');
  if (!existsSync(join(dir, 'PG_VERSION'))) {
    const { uid, gid } = postgresUser();
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chownSync(dir, uid, gid);
    chownSync(acmeHome, uid, gid);
    const res = spawnSync(join(pgBin(), 'initdb'), ['-D', dir, '-A', 'trust', '-E', 'UTF8', '--no-locale', '-U', 'postgres'], { uid, gid, cwd: dir, encoding: 'utf8' });
    if (res.status !== 0) throw new Error(`initdb for acme failed: ${res.stderr}`);
  }
  await startService('acme-db', acmeDbDecl());
  // Accepting TCP is not yet answering: wait out "the database system is starting up".
  for (let i = 0; ; i++) {
    try {
      await withAcmeDb('postgres', async (c) => {
        const have = await c.query("SELECT 1 FROM pg_database WHERE datname = 'acme'");
        if (!have.rowCount) await c.query('CREATE DATABASE acme');
      });
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== '57P03' || i === 100) throw err;
      await sleep(100);
    }
  }
}

export async function stopAcmeDb(): Promise<void> {
  const dir = join(acmeHome, 'pgdata');
  if (!findService('acme-db', acmeDbDecl())) return;
  spawnSync('runuser', ['-u', 'postgres', '--', join(pgBin(), 'pg_ctl'), '-D', dir, '-m', 'fast', '-w', 'stop'], { encoding: 'utf8' });
}

export async function withAcmeDb<T>(db: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ host: '127.0.0.1', port: acmePorts.db, user: 'postgres', database: db, connectionTimeoutMillis: 5000 });
  c.on('error', () => {});
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => {});
  }
}

/** One charge, as acme's clients send it. */
export async function charge(baseUrl: string, key: string, body: { reference: string; amount: string; currency: string; run?: string }): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${baseUrl}/v1/charges`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': key },
    body: JSON.stringify({ reference: body.reference, amount: body.amount, currency: body.currency, customer: 'cus_test', metadata: { test_run_id: body.run ?? 'manual' } }),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}
