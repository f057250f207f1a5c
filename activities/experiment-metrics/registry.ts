// The experiment's own Prometheus metrics, exported by the orchestrator worker:
// finished runs (counted by scenario and verdict; the last run of each scenario in
// detail) and the running experiments (phase, active faults, live rate), read from
// their status query at scrape time. Cardinality is bounded: "last run" series are
// replaced per scenario, "running" series exist while the run does.
import { Counter, Gauge, Registry } from 'prom-client';
import { failingClasses, outcomeClasses } from '../reconcile/types.ts';
import type { ExperimentReport } from '../report/types.ts';

export const experimentRegistry = new Registry();
const reg = [experimentRegistry];

const runs = new Counter({ name: 'ordeal_experiment_runs_total', help: 'Finished experiment runs by scenario and verdict', labelNames: ['scenario', 'verdict'], registers: reg });
const lastInfo = new Gauge({ name: 'ordeal_experiment_last_run_info', help: 'The last finished run of each scenario (value 1; verdict as a label)',
  labelNames: ['scenario', 'run_id', 'verdict'], registers: reg });
const lastEnded = new Gauge({ name: 'ordeal_experiment_last_run_end_timestamp_seconds', help: 'When the last run of each scenario ended',
  labelNames: ['scenario', 'run_id'], registers: reg });
const lastOutcomes = new Gauge({ name: 'ordeal_experiment_last_outcomes', help: 'Messages per outcome class and system of record, last run of each scenario',
  labelNames: ['scenario', 'run_id', 'source', 'class'], registers: reg });
const lastMoney = new Gauge({ name: 'ordeal_experiment_last_money_at_risk', help: 'Money at risk (lost, duplicated, ghost, mismatched, missing) in major currency units per source, last run of each scenario',
  labelNames: ['scenario', 'run_id', 'source', 'currency'], registers: reg });
const lastVolume = new Gauge({ name: 'ordeal_experiment_last_ledger_amount', help: 'The ledger\'s total payment volume in major currency units, last run of each scenario',
  labelNames: ['scenario', 'run_id', 'currency'], registers: reg });
const lastMessages = new Gauge({ name: 'ordeal_experiment_last_ledger_messages', help: 'Ledger messages of the last run of each scenario', labelNames: ['scenario', 'run_id'], registers: reg });
const lastRecovery = new Gauge({ name: 'ordeal_experiment_last_time_to_recovery_seconds', help: 'Time to recovery after the last revert (kind: healthy | first_success), last run of each scenario',
  labelNames: ['scenario', 'run_id', 'kind'], registers: reg });
const lastGaps = new Gauge({ name: 'ordeal_experiment_last_harness_gaps', help: 'Harness gaps (load worker outages excluded from the SLO), last run of each scenario',
  labelNames: ['scenario', 'run_id'], registers: reg });
const lastGapSeconds = new Gauge({ name: 'ordeal_experiment_last_harness_gap_seconds', help: 'Seconds of load inside harness gaps, last run of each scenario',
  labelNames: ['scenario', 'run_id'], registers: reg });
const lastExcluded = new Gauge({ name: 'ordeal_experiment_last_excluded_seconds', help: 'Seconds left out of the steady-state thresholds by reason (warm-up, fault, harness gap), last run of each scenario',
  labelNames: ['scenario', 'run_id', 'reason'], registers: reg });

/**
 * Runs already counted: writeReports is retried (a lost completion, a timeout after the
 * write) with the same report, and a run is one run however often its report is written.
 * Bounded: the oldest ids go first, long after any retry of theirs could come.
 */
const counted = new Set<string>();
const COUNTED_MAX = 10_000;
function firstRecord(runId: string): boolean {
  if (counted.has(runId)) return false;
  counted.add(runId);
  if (counted.size > COUNTED_MAX) counted.delete(counted.values().next().value!);
  return true;
}

/** The series each scenario's last run set, removed when its next run is recorded. */
const lastSeries = new Map<string, [Gauge<string>, Record<string, string>][]>();

/** Minor units to major (2 decimals unless the currency says otherwise, as in reports). */
function major(cur: string, minor: number): number {
  let digits = 2;
  try { digits = new Intl.NumberFormat('en', { style: 'currency', currency: cur.toUpperCase() }).resolvedOptions().maximumFractionDigits ?? 2; } catch { /* not ISO */ }
  return minor / 10 ** digits;
}

/** The reason an excluded window was left out, as a small closed set (its `why` is free text). */
export function excludedReason(why: string): string {
  const w = why.toLowerCase();
  if (w.includes('harness gap')) return 'harness_gap';
  if (w.startsWith('warm-up') || w.startsWith('warmup')) return 'warmup';
  return 'fault';
}

/** A finished run: count it (once per run id), and make it the last run of its scenario. */
export function recordReport(r: ExperimentReport): void {
  const scenario = r.scenario;
  for (const [g, labels] of lastSeries.get(scenario) ?? []) g.remove(labels);
  const series: [Gauge<string>, Record<string, string>][] = [];
  lastSeries.set(scenario, series);
  const put = <L extends string>(g: Gauge<L>, labels: Record<L, string>, v: number) => {
    g.set(labels, v);
    series.push([g as unknown as Gauge<string>, labels]);
  };
  if (firstRecord(r.run_id)) runs.inc({ scenario, verdict: r.verdict });
  const base = { scenario, run_id: r.run_id };
  put(lastInfo, { ...base, verdict: r.verdict }, 1);
  put(lastEnded, base, Date.parse(r.ended_at) / 1000);
  if (r.ledger) {
    put(lastMessages, base, r.ledger.count);
    for (const [cur, v] of Object.entries(r.ledger.totals_by_currency)) put(lastVolume, { ...base, currency: cur }, major(cur, v));
  }
  for (const s of r.reconcile?.sources ?? []) {
    for (const c of outcomeClasses) put(lastOutcomes, { ...base, source: s.source, class: c }, s.classes[c]?.count ?? 0);
    const money: Record<string, number> = {};
    for (const c of failingClasses) for (const [cur, v] of Object.entries(s.classes[c]?.money ?? {})) money[cur] = (money[cur] ?? 0) + v;
    // The ledger's currencies at 0, so "nothing at risk" is a series, not an absence.
    for (const cur of Object.keys(r.ledger?.totals_by_currency ?? {})) money[cur] ??= 0;
    for (const [cur, v] of Object.entries(money)) put(lastMoney, { ...base, source: s.source, currency: cur }, major(cur, v));
  }
  if (r.recovery) {
    if (r.recovery.time_to_healthy_ms !== null) put(lastRecovery, { ...base, kind: 'healthy' }, r.recovery.time_to_healthy_ms / 1000);
    if (r.recovery.time_to_first_success_ms !== null) put(lastRecovery, { ...base, kind: 'first_success' }, r.recovery.time_to_first_success_ms / 1000);
  }
  const excluded = r.load?.windows?.excluded ?? [];
  const byReason: Record<string, number> = { warmup: 0, fault: 0, harness_gap: 0 };
  let gaps = 0;
  for (const e of excluded) {
    const reason = excludedReason(e.why);
    byReason[reason] = (byReason[reason] ?? 0) + Math.max(0, e.to_s - e.from_s);
    if (reason === 'harness_gap') gaps++;
  }
  for (const [reason, secs] of Object.entries(byReason)) put(lastExcluded, { ...base, reason }, secs);
  put(lastGaps, base, gaps);
  put(lastGapSeconds, base, byReason.harness_gap ?? 0);
}

