// The stack warms its reference systems before `stack up` reports ready.
//
// Why: a freshly started stack cannot hold 1,000 payments/s for its first minute.
// Kafka spends about half its CPU in the JVM's JIT compiler then (bench:pipeline saw the
// 1,000/s row fail in its first second every time after a 5 s warm-up, never after 20 s),
// the payment API, the stream processor, the Stripe emulator and Ordeal's own workers run
// interpreted code until V8 has optimised their hot paths, and PostgreSQL's and Kafka's
// caches are empty. On a cold stack the demo's p99 was 2-5 s before any fault.
//
// How: one real experiment through Ordeal's own workers and the whole payment path
// (ledger, load shards, the API, PostgreSQL, the outbox relay, Kafka, the stream
// processor, the emulator, drain, reconciliation): the shipped db_failure_peak_load
// scenario with no fault and no thresholds, its own run id (its own test_run_id: no later
// run reconciles its payments), named `stack_warmup` so it is listed and filtered apart.
// The same for every `stack up` that started the payment API, and printed.
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { OrdealClient } from '../client/index.ts';
import type { StackConfig } from './config.ts';

/** The warm-up scenario's name: `ordeal list --scenario stack_warmup`. */
export const WARMUP_SCENARIO = 'stack_warmup';

export interface WarmupOptions {
  config: StackConfig;
  /** Arrival rate held after the ramp (payments/s). */
  rate: number;
  /** Length of the load phase (ms), the ramp included. */
  durationMs: number;
  /** The ramp from 0 to `rate` at its start (ms). */
  rampMs: number;
  onLine?: (line: string) => void;
}

export interface WarmupResult {
  run_id: string;
  workflow_id: string;
  verdict: string;
  messages: number;
  /** Corrected p99 of the last 10 s of the warm-up's load, or of all of it when shorter. */
  p99_ms: number;
  last_seconds_p99_ms: number;
  error_rate: number;
  took_ms: number;
  load_average: number[];
}

/** The ledger a constant-rate phase with a linear ramp sends: rate × (duration − ramp/2). */
export function warmupMessages(rate: number, durationMs: number, rampMs: number): number {
  if (!(rate > 0) || !(durationMs > 0) || rampMs < 0 || rampMs > durationMs) {
    throw new Error(`stack warm-up: expected rate > 0, duration > 0 and 0 <= ramp <= duration (got rate ${rate}, duration ${durationMs} ms, ramp ${rampMs} ms)`);
  }
  return Math.ceil((rate * (durationMs - rampMs / 2)) / 1000);
}

export function warmupOverrides(rate: number, durationMs: number, rampMs: number): string[] {
  return [
    `name=${WARMUP_SCENARIO}`,
    `description=the stack's warm-up pass (its own run id; never part of another run's proof)`,
    `ledger.messages=${warmupMessages(rate, durationMs, rampMs)}`,
    `load.rate=${rate}`, `load.duration=${durationMs}ms`, `load.warmup=${rampMs}ms`,
    'load.thresholds={}', 'faults=[]',
    'recovery.timeout=30s', 'redelivery.timeout=30s', 'drain.timeout=60s',
  ];
}

export async function warmUpStack(o: WarmupOptions): Promise<WarmupResult> {
  const t0 = Date.now();
  const say = o.onLine ?? (() => {});
  const ordeal = await OrdealClient.connect({ config: o.config });
  try {
    const h = await ordeal.start({
      scenario: 'db_failure_peak_load', overrides: warmupOverrides(o.rate, o.durationMs, o.rampMs),
      workflowId: `ordeal-${WARMUP_SCENARIO}-${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(2).toString('hex')}`,
    });
    say(`  · warm-up      ${o.rate} payments/s for ${o.durationMs / 1000} s (ramp ${o.rampMs / 1000} s) through the payment path: ${h.uiUrl}`);
    const r = await h.result();
    const tl = r.report.load?.timeline ?? [];
    const lastT = tl.length ? tl[tl.length - 1]!.t : 0;
    const last = tl.filter((p) => p.t > lastT - 10);
    return {
      run_id: r.run_id, workflow_id: r.workflow_id, verdict: r.verdict, messages: r.report.ledger?.count ?? 0,
      p99_ms: r.report.load?.latency_ms.p99 ?? 0,
      last_seconds_p99_ms: Math.max(0, ...last.map((p) => p.p99_ms)),
      error_rate: r.report.load?.error_rate ?? 0,
      took_ms: Date.now() - t0, load_average: loadavg().map((x) => Math.round(x * 100) / 100),
    };
  } finally {
    await ordeal.close();
  }
}

/** The services a warm-up pass needs up: the payment path and Ordeal's two workers. */
export const WARMUP_NEEDS = ['payment-api', 'worker', 'load-worker'] as const;

/**
 * Whether `stack up` warms: only when this call started (or restarted) the payment API
 * — a running API is as warm as its traffic made it — and everything the pass needs is up.
 * Returns why not, or null to warm.
 */
export function warmupSkipReason(up: ReadonlySet<string>, started: ReadonlySet<string>): string | null {
  const missing = WARMUP_NEEDS.filter((s) => !up.has(s));
  if (missing.length) return `not warming: ${missing.join(', ')} not up`;
  if (!started.has('payment-api')) return 'not warming: the payment API was already running';
  return null;
}
