// The detection matrix: each seeded defect of systems/defects.ts under the shipped
// scenario that exposes it, and the correct system under every shipped scenario, each
// through the real experiment workflow on shortened timelines. Shared by
// `npm run bench:detection` (every cell) and test/experiment/detection.test.ts (a few).
import { loadavg } from 'node:os';
import type { ExperimentResult, OrdealClient } from '../scripts/client/index.ts';
import type { StackConfig } from '../scripts/stack/config.ts';
import { stackServices, up } from '../scripts/stack/index.ts';
import { defectCatalog, type DefectName } from '../systems/defects.ts';

export const CLASSES = ['lost', 'duplicated', 'ghost', 'mismatched', 'missing'] as const;
export type FailingClass = (typeof CLASSES)[number];

const timeouts = ['recovery.timeout=45s', 'redelivery.timeout=45s', 'drain.timeout=60s'];
/**
 * A constant-rate scenario at `rate`/s for `seconds` (no ramp: the ledger is rate × seconds),
 * its fault at 4 s for 6 s: 30 s leave ~14 steady seconds after the fault window (20 s left 3).
 */
const short = (rate: number, seconds: number, fault = true) => [
  `ledger.messages=${rate * seconds}`, `load.rate=${rate}`, `load.duration=${seconds}s`, 'load.warmup=0',
  ...(fault ? ['faults.0.at=4s', 'faults.0.duration=6s'] : []), ...timeouts,
];

/** Shortened timelines for every shipped scenario (the correct system must PASS each, stress excepted: see STRESS_PROMISE). */
export const shortScenarios: Record<string, string[]> = {
  db_failure_peak_load: short(200, 30),
  kafka_broker_kill: short(200, 30),
  network_latency_db: short(200, 30),
  redis_failure: short(200, 30),
  stream_processor_kill: short(200, 30),
  stripe_rate_limit: short(200, 30),
  soak: short(100, 30),
  // 200 users for 15 s (ramped in 5 s), as fast as answers come, until the ledger runs out:
  // a closed model sends what the system answers, so a ledger it cannot reach is left to
  // redelivery (60,000 left 39,523 entries missing after 45 s on a busy machine).
  payment_spike: ['ledger.messages=4000', 'load.stages=[{duration: 5s, target: 200}, {duration: 10s, target: 200}]', 'load.vus=200',
    'load.spawn_rate=40', ...timeouts],
  // The ledger is every stage's arrivals (200×5 + 600×5 + 1500×5): the ramp stops at the
  // knee and what it did not send is redelivered (40,000 left 26,789 missing after 45 s).
  stress: ['ledger.messages=11500', 'load.stages=[{duration: 5s, target: 200}, {duration: 5s, target: 600}, {duration: 5s, target: 1500}]', ...timeouts],
};

/**
 * What the stress scenario promises: exactly-once in every system of record at every
 * rate it reaches, and the knee (the highest stage that met the SLO) reported. Its
 * latency thresholds break by design once the ramp passes the knee, so the verdict
 * may be FAIL on thresholds alone; a failing class is never acceptable.
 */
export const STRESS_PROMISE = 'exactly-once at every rate (no failing class) and the knee reported; the latency thresholds break at the knee by design';

/** Each defect, the shipped scenario that exposes it, and the class it must produce. */
export const defectCells: { defect: DefectName; scenario: string; expect: FailingClass }[] = [
  { defect: 'ack_before_commit', scenario: 'db_failure_peak_load', expect: 'lost' },
  { defect: 'idempotency_cache_only', scenario: 'redis_failure', expect: 'duplicated' },
  { defect: 'idempotency_check_then_insert', scenario: 'redis_failure', expect: 'duplicated' },
  { defect: 'stripe_without_idempotency_key', scenario: 'db_failure_peak_load', expect: 'duplicated' },
  { defect: 'outbox_mark_sent_on_error', scenario: 'kafka_broker_kill', expect: 'lost' },
  { defect: 'consumer_at_least_once', scenario: 'stream_processor_kill', expect: 'duplicated' },
  { defect: 'consumer_commit_before_process', scenario: 'stream_processor_kill', expect: 'lost' },
];

export interface Cell {
  system: 'correct' | DefectName;
  scenario: string;
  verdict: string;
  /** Non-zero classes per source, e.g. lost@postgres. */
  classes: string[];
  thresholds_broken: string[];
  expected: string;
  ok: boolean;
  knee_rate?: number | null;
  reasons: string[];
  run_id: string;
  seconds: number;
  load_average: number;
}

export function failingClasses(r: ExperimentResult): string[] {
  const out: string[] = [];
  for (const s of r.report.reconcile?.sources ?? []) for (const c of CLASSES) if ((s.classes[c]?.count ?? 0) > 0) out.push(`${c}@${s.source}`);
  return out.sort();
}

/** Is a cell's outcome what the matrix expects? Pure, so the rule is tested on its own. */
export function judgeCell(system: 'correct' | DefectName, scenario: string, verdict: string, classes: string[], expect?: FailingClass): boolean {
  if (system === 'correct') return scenario === 'stress' ? classes.length === 0 && (verdict === 'PASS' || verdict === 'FAIL') : verdict === 'PASS';
  return verdict === 'FAIL' && classes.some((c) => c.startsWith(`${expect}@`));
}

/** Restarts the one service a defect lives in with exactly `defects` (none: the correct system). */
export async function switchDefects(config: StackConfig, defects: DefectName[]): Promise<void> {
  await up({ config, services: stackServices, only: ['payment-api', 'stream-processor'], defects });
}

export async function runCell(o: { ordeal: OrdealClient; config: StackConfig; system: 'correct' | DefectName; scenario: string;
  loadTaskQueue?: string; overrides?: string[] }): Promise<Cell> {
  const t0 = Date.now();
  const expect = o.system === 'correct' ? undefined : defectCells.find((d) => d.defect === o.system && d.scenario === o.scenario)?.expect;
  if (o.system !== 'correct' && !expect) throw new Error(`detection matrix: no cell for defect ${o.system} under ${o.scenario}`);
  const overrides = o.overrides ?? shortScenarios[o.scenario];
  if (!overrides) throw new Error(`detection matrix: no shortened timeline for scenario ${o.scenario} (known: ${Object.keys(shortScenarios).join(', ')})`);
  await switchDefects(o.config, o.system === 'correct' ? [] : [o.system]);
  const h = await o.ordeal.start({ scenario: o.scenario, overrides, ...(o.loadTaskQueue ? { loadTaskQueue: o.loadTaskQueue } : {}) });
  const r = await h.result();
  const classes = failingClasses(r);
  return {
    system: o.system, scenario: o.scenario, verdict: r.verdict, classes,
    thresholds_broken: (r.report.load?.thresholds ?? []).filter((t) => !t.ok).map((t) => t.name),
    expected: o.system === 'correct' ? (o.scenario === 'stress' ? `no failing class (${STRESS_PROMISE})` : 'PASS') : `FAIL with ${expect} (${defectCatalog[o.system].trigger})`,
    ok: judgeCell(o.system, o.scenario, r.verdict, classes, expect),
    ...(r.report.load?.knee_rate !== undefined ? { knee_rate: r.report.load.knee_rate } : {}),
    reasons: r.reasons, run_id: r.run_id, seconds: Math.round((Date.now() - t0) / 100) / 10, load_average: Math.round(loadavg()[0]! * 100) / 100,
  };
}

export function matrixTable(cells: Cell[]): string {
  const rows = cells.map((c) => ` ${c.system.padEnd(31)} ${c.scenario.padEnd(22)} ${c.verdict.padEnd(7)} ${(c.classes.join(',') || (c.thresholds_broken.length ? `thresholds: ${c.thresholds_broken.join(',')}` : '-')).padEnd(34)} ${c.ok ? 'as expected' : `UNEXPECTED (expected ${c.expected})`}`);
  return [` ${'SYSTEM'.padEnd(31)} ${'SCENARIO'.padEnd(22)} ${'VERDICT'.padEnd(7)} ${'FAILING CLASSES'.padEnd(34)} RESULT`, ...rows].join('\n');
}
