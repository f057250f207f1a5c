// Shared by the fault tests: real-stack probes, and the check every test ends with —
// no toxic, no disabled proxy, no stopped or dead service, no open lease.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import { closeFaults, faultStore, listOpenFaults, revertOpenFaults, type LeaseRow } from '../../activities/faults/index.ts';
import { ToxiproxyClient } from '../../activities/faults/toxiproxy/client.ts';
import { loadStackConfig, stackServices, status } from '../../scripts/stack/index.ts';
import { isOurProcessAlive, processTree, readPidFile } from '../../scripts/stack/process.ts';
import { readStat } from '../../process-table/index.ts';

export const config = loadStackConfig();
export const toxiproxy = new ToxiproxyClient(`http://127.0.0.1:${config.ports.toxiproxy}`);

/** A query through postgres's proxy, as the system under test reaches it. */
export async function pgThroughProxy(timeoutMs = 1500): Promise<'ok' | string> {
  const client = new pg.Client({ host: '127.0.0.1', port: config.ports.postgres_proxy, user: 'postgres', database: 'postgres',
    connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return 'ok';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  } finally {
    await client.end().catch(() => {});
  }
}

/** Redis PING through its proxy; the result and how long it took. */
export async function redisThroughProxy(timeoutMs = 1000): Promise<{ result: 'ok' | string; ms: number }> {
  const client = new Redis({ host: '127.0.0.1', port: config.ports.redis_proxy, lazyConnect: true, connectTimeout: timeoutMs,
    commandTimeout: timeoutMs, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  client.on('error', () => {});
  const t0 = performance.now();
  try {
    await client.connect();
    const pong = await client.ping();
    return { result: pong === 'PONG' ? 'ok' : pong, ms: performance.now() - t0 };
  } catch (err) {
    return { result: (err as NodeJS.ErrnoException).code ?? (err as Error).message, ms: performance.now() - t0 };
  } finally {
    client.disconnect();
  }
}

export async function withRedis<T>(fn: (r: Redis) => Promise<T>): Promise<T> {
  const client = new Redis({ host: '127.0.0.1', port: config.ports.redis_proxy, lazyConnect: true, maxRetriesPerRequest: 0, commandTimeout: 10_000 });
  client.on('error', () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    client.disconnect();
  }
}

/** Runs the `ordeal` CLI in its own process (another process than the test's). */
export function ordeal(...args: string[]): { code: number; stdout: string; stderr: string } {
  const res = spawnSync('bash', [join(config.root, 'scripts', 'ordeal'), ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: res.status ?? -1, stdout: res.stdout, stderr: res.stderr };
}

function stoppedProcesses(): string[] {
  const out: string[] = [];
  for (const s of stackServices) {
    const rec = readPidFile(join(config.home, 'run', `${s.name}.pid`));
    if (!rec || !isOurProcessAlive(rec)) continue;
    for (const p of processTree(rec.pid)) {
      if (readStat(p.pid)?.state === 'T') out.push(`${s.name} pid ${p.pid}`);
    }
  }
  return out;
}

export async function servicesUp(): Promise<Set<string>> {
  return new Set((await status({ config, services: stackServices })).filter((r) => r.state === 'up').map((r) => r.service));
}

/** Heals whatever a failed test left, then asserts the stack is exactly as healthy as before. */
export async function assertNoFaultLeft(upBefore: Set<string>): Promise<void> {
  const leftovers = await revertOpenFaults('test-cleanup');
  const proxies = await toxiproxy.proxies();
  const stopped = stoppedProcesses();
  const upNow = await servicesUp();
  await closeFaults();
  assert.deepEqual(leftovers.map((l) => `${l.lease.faultId}: ${l.result.error ?? l.result.detail ?? ''}`), [], 'every fault was reverted by its test (no open lease left)');
  for (const p of Object.values(proxies)) {
    assert.equal(p.enabled, true, `proxy ${p.name} enabled`);
    assert.deepEqual(p.toxics, [], `proxy ${p.name} has no toxics`);
  }
  assert.deepEqual(stopped, [], 'no stack process is stopped (SIGSTOP)');
  assert.deepEqual([...upBefore].filter((s) => !upNow.has(s)), [], 'every service that was up before is up again');
}

export async function eventually<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Waits until whoever reverts (a worker, a watchdog, a panic) has marked the fault's lease reverted. */
export function leaseReverted(faultId: string, what: string, timeoutMs = 20_000): Promise<LeaseRow> {
  return eventually(what, async () => {
    const l = await faultStore().get(faultId);
    return l?.state === 'reverted' ? l : undefined;
  }, timeoutMs);
}

export { listOpenFaults };
