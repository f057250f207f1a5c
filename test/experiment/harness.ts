// Shared by the experiment tests: a client on the test stack's Temporal, workers
// (in-process, or as a child process that a test can SIGKILL), history inspection.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import proto, { type temporal } from '@temporalio/proto';
import type { Worker } from '@temporalio/worker';
import { OrdealClient } from '../../scripts/client/index.ts';
import { loadStackConfig, repoRoot } from '../../scripts/stack/config.ts';
import { createOrchestratorWorker, installRuntime } from '../../workers/orchestrator.ts';

export const config = loadStackConfig();
export const uniqueQueue = (prefix: string) => `${prefix}-${randomBytes(3).toString('hex')}`;

export async function client(taskQueue: string): Promise<OrdealClient> {
  return OrdealClient.connect({ config, taskQueue });
}

/** An orchestrator worker in this process on its own task queue (no metrics port: the stack's worker has it). */
export async function inProcessWorker(taskQueue: string, activities: Record<string, (...a: never[]) => Promise<unknown>> = {}):
  Promise<{ worker: Worker; stop: () => Promise<void> }> {
  installRuntime(config, null);
  const { worker, connection } = await createOrchestratorWorker({ config, taskQueue, activities });
  const running = worker.run();
  return {
    worker,
    stop: async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await connection.close();
    },
  };
}

/**
 * A worker process (orchestrator + load, test/experiment/worker-process.ts) that tests may SIGKILL; ready when it polls.
 * `env`: variables that differ from this process's (e.g. an ORDEAL_DB_URL nothing listens on).
 */
export async function workerProcess(taskQueue: string, extraArgs: string[] = [], env: NodeJS.ProcessEnv = {}):
  Promise<{ child: ChildProcess; kill: (sig?: NodeJS.Signals) => Promise<void> }> {
  const child = spawn(join(config.tools, 'bin', 'node'), [join(import.meta.dirname, 'worker-process.ts'), taskQueue, ...extraArgs], {
    cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (b: Buffer) => {
      out += b.toString();
      if (out.includes('worker ready')) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`worker process exited (${code}) before ready:\n${out}`)));
  });
  await ready;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    child,
    kill: async (sig: NodeJS.Signals = 'SIGKILL') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(sig);
      await exited;
    },
  };
}

export async function history(c: OrdealClient, workflowId: string): Promise<temporal.api.history.v1.IHistoryEvent[]> {
  const h = await c.client.workflow.getHandle(workflowId).fetchHistory();
  return h.events ?? [];
}

/**
 * With ORDEAL_RECORD_HISTORIES=1, saves a finished run's history as a replay fixture
 * (test/workflows/histories/<name>.json, read by test/workflows/replay.unit.test.ts).
 * `npm run test:record-histories` re-records all of them.
 */
export async function recordHistory(c: OrdealClient, workflowId: string, name: 'pass' | 'aborted' | 'crash-resumed'): Promise<void> {
  if (!process.env.ORDEAL_RECORD_HISTORIES) return;
  const { History } = proto.temporal.api.history.v1;
  const h = History.fromObject(await c.client.workflow.getHandle(workflowId).fetchHistory());
  // protobufjs's object form (enums and 64-bit ints as strings, bytes base64): the SDK's
  // historyToJSON/historyFromJSON fail here ("type must be a Type": @temporalio/common
  // carries its own protobufjs copy, whose instanceof checks reject @temporalio/proto's types).
  const json = History.toObject(h, { enums: String, longs: String, bytes: String });
  writeFileSync(join(repoRoot, 'test', 'workflows', 'histories', `${name}.json`), `${JSON.stringify(json)}\n`);
}

/** Activity types scheduled in a run, in order. */
export async function scheduledActivities(c: OrdealClient, workflowId: string): Promise<string[]> {
  return (await history(c, workflowId))
    .filter((e) => e.activityTaskScheduledEventAttributes)
    .map((e) => e.activityTaskScheduledEventAttributes!.activityType!.name!);
}

import { after, before } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { ordealDbUrl } from '../../scripts/stack/services/postgres.ts';
import { startWorkers, type RunningWorkers } from '../../workers/index.ts';
import type { ExperimentHandle } from '../../scripts/client/index.ts';
import type { ExperimentStatus } from '../../workflows/types.ts';

/** A short db_failure_peak_load: small ledger, low rate, a 5 s database kill; thresholds off (shared CPU). */
export const shortDbKill = [
  'ledger.messages=1500', 'load.rate=100', 'load.duration=15s', 'load.warmup=0', 'load.thresholds={}',
  'faults.0.at=4s', 'faults.0.duration=5s', 'recovery.timeout=45s', 'drain.timeout=45s',
];

/**
 * For a test file: in-process workers and a client, started before its tests and shut
 * down after them. Read the fields inside tests (they are set by then).
 */
export function experimentWorkers(prefix: string): { ordeal: OrdealClient; loadTaskQueue: string } {
  const ctx = {} as { ordeal: OrdealClient; loadTaskQueue: string };
  let rig: Rig | undefined;
  before(async () => {
    rig = await experimentRig(prefix);
    ctx.ordeal = rig.ordeal;
    ctx.loadTaskQueue = rig.loadTaskQueue;
  });
  after(async () => { await rig?.close(); });
  return ctx;
}

/** Orchestrator + load worker in this process, on their own task queues. */
export async function inProcessWorkers(prefix: string): Promise<{ taskQueue: string; loadTaskQueue: string; workers: RunningWorkers }> {
  const taskQueue = uniqueQueue(prefix);
  const loadTaskQueue = `${taskQueue}-load`;
  const workers = await startWorkers({ taskQueue, loadTaskQueue, metrics: false });
  return { taskQueue, loadTaskQueue, workers };
}

/** In-process workers and a client on their queue, with one close for both (a test file's before/after). */
export interface Rig { ordeal: OrdealClient; loadTaskQueue: string; close: () => Promise<void> }

export async function experimentRig(prefix: string): Promise<Rig> {
  const w = await inProcessWorkers(prefix);
  const ordeal = await client(w.taskQueue);
  return {
    ordeal, loadTaskQueue: w.loadTaskQueue,
    close: async () => {
      w.workers.shutdown();
      await w.workers.done;
      await ordeal.close();
    },
  };
}

export async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 60_000, everyMs = 250): Promise<T> {
  const t0 = Date.now();
  let lastErr: unknown;
  while (Date.now() - t0 < timeoutMs) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      lastErr = err;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? ` (last error: ${(lastErr as Error).message})` : ''}`);
}

export function untilFaultActive(h: ExperimentHandle, timeoutMs = 60_000): Promise<ExperimentStatus> {
  return until('a fault to be active', async () => {
    const s = await h.status();
    return s.active_faults.length > 0 ? s : null;
  }, timeoutMs);
}

/** The fault leases of a run in Ordeal's database (the fault catalog's record of every injection). */
export async function leasesOf(runId: string): Promise<{ state: string; reverted_by: string | null; type: string; target: string }[]> {
  const db = new pg.Client({ connectionString: ordealDbUrl(config) });
  await db.connect();
  try {
    const r = await db.query('SELECT state, reverted_by, type, target FROM ordeal_fault_leases WHERE run_id = $1 ORDER BY injected_at', [runId]);
    return r.rows;
  } finally {
    await db.end();
  }
}

export async function outcomeRows(runId: string): Promise<{ rows: number; distinct: number }> {
  const db = new pg.Client({ connectionString: ordealDbUrl(config) });
  await db.connect();
  try {
    const r = await db.query('SELECT count(*)::int AS rows, count(DISTINCT message_id)::int AS distinct FROM load_outcomes WHERE run_id = $1', [runId]);
    return r.rows[0];
  } finally {
    await db.end();
  }
}

/** The payment API's readiness: true once PostgreSQL is back (the fault reverted). */
export async function paymentApiReady(): Promise<boolean> {
  const res = await fetch(`http://127.0.0.1:${config.ports.payment_api}/ready`, { signal: AbortSignal.timeout(3000) }).catch(() => null);
  return res?.status === 200;
}

/** POST /payments requests the payment API has answered so far (its payment_requests_total counter). */
export async function paymentApiRequests(): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${config.ports.payment_api}/metrics`, { signal: AbortSignal.timeout(3000) })).text();
  return [...text.matchAll(/^payment_requests_total\{[^}]*\} (\d+(?:\.\d+)?)$/gm)].reduce((a, m) => a + Number(m[1]), 0);
}
