// The orchestrator's finished-run metrics: counted by verdict, and the last run of each
// scenario replaces the previous one's series (bounded cardinality), other scenarios kept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { excludedReason, experimentRegistry, recordReport } from '../../activities/experiment-metrics/index.ts';
import type { ExperimentReport } from '../../activities/report/types.ts';

function report(scenario: string, runId: string, verdict: ExperimentReport['verdict'], lost: number): ExperimentReport {
  const tally = (count: number, cents = 0) => ({ count, amount_cents: cents, money: cents ? { usd: cents } : {}, ids: [] });
  return {
    run_id: runId, workflow_id: `wf-${runId}`, scenario, verdict, reasons: [], started_at: '2026-12-04T10:00:00Z', ended_at: '2026-12-04T10:01:00Z',
    phases: [], ledger: { count: 100, seed: 1, totals_by_currency: { usd: 250_000 }, json_path: '', csv_path: '' },
    load: { windows: { excluded: [{ from_s: 0, to_s: 5, why: 'warm-up' }, { from_s: 10, to_s: 20, why: 'database_kill on postgres: fault' },
      { from_s: 30, to_s: 33, why: 'harness gap: load worker w1 lost' }] } } as unknown as ExperimentReport['load'],
    faults: [], recovery: { recovered: true, time_to_healthy_ms: 1500, time_to_first_success_ms: null }, redelivery: null, drain: null,
    reconcile: { sources: [{ source: 'postgres', classes: { ok: tally(100 - lost), lost: tally(lost, lost * 1000), duplicated: tally(0), ghost: tally(0),
      mismatched: tally(0), unacknowledged: tally(0), missing: tally(0) } }] } as unknown as ExperimentReport['reconcile'],
  };
}

void test('finished runs: counted by verdict; the last run per scenario replaces the previous one\'s series', async () => {
  recordReport(report('scn-a', 'run-1', 'FAIL', 2));
  recordReport(report('scn-b', 'run-9', 'PASS', 0));
  let text = await experimentRegistry.metrics();
  assert.match(text, /ordeal_experiment_last_money_at_risk\{scenario="scn-a",run_id="run-1",source="postgres",currency="usd"\} 20/);
  assert.match(text, /ordeal_experiment_last_outcomes\{scenario="scn-a",run_id="run-1",source="postgres",class="lost"\} 2/);
  assert.match(text, /ordeal_experiment_last_ledger_amount\{scenario="scn-a",run_id="run-1",currency="usd"\} 2500/);
  assert.match(text, /ordeal_experiment_last_time_to_recovery_seconds\{scenario="scn-a",run_id="run-1",kind="healthy"\} 1.5/);
  assert.match(text, /ordeal_experiment_last_harness_gaps\{scenario="scn-a",run_id="run-1"\} 1/);
  assert.match(text, /ordeal_experiment_last_excluded_seconds\{scenario="scn-a",run_id="run-1",reason="fault"\} 10/);
  assert.match(text, /ordeal_experiment_last_harness_gap_seconds\{scenario="scn-a",run_id="run-1"\} 3/);

  recordReport(report('scn-a', 'run-2', 'PASS', 0));
  text = await experimentRegistry.metrics();
  assert.doesNotMatch(text, /run_id="run-1"/, 'the previous run of scn-a is gone');
  assert.match(text, /ordeal_experiment_last_run_info\{scenario="scn-a",run_id="run-2",verdict="PASS"\} 1/);
  assert.match(text, /ordeal_experiment_last_money_at_risk\{scenario="scn-a",run_id="run-2",source="postgres",currency="usd"\} 0/);
  assert.match(text, /run_id="run-9"/, 'other scenarios keep their last run');
  assert.match(text, /ordeal_experiment_runs_total\{scenario="scn-a",verdict="FAIL"\} 1/);
  assert.match(text, /ordeal_experiment_runs_total\{scenario="scn-a",verdict="PASS"\} 1/);
  assert.deepEqual(['warm-up', 'harness gap: x', 'database_kill on postgres: fault'].map(excludedReason), ['warmup', 'harness_gap', 'fault']);
});

void test('a retried report activity counts its run once: runs_total is idempotent per run id', async () => {
  const count = async (scenario: string, verdict: string) => Number(new RegExp(`ordeal_experiment_runs_total\\{scenario="${scenario}",verdict="${verdict}"\\} (\\d+)`)
    .exec(await experimentRegistry.metrics())?.[1] ?? 0);
  const r = report('scn-retry', 'run-r1', 'FAIL', 1);
  recordReport(r);
  // writeReports retried with the same report (its first completion was lost): the interceptor records it again.
  recordReport(structuredClone(r));
  recordReport(structuredClone(r));
  assert.equal(await count('scn-retry', 'FAIL'), 1);
  // The last run's series are still that run's, once.
  assert.match(await experimentRegistry.metrics(), /ordeal_experiment_last_run_info\{scenario="scn-retry",run_id="run-r1",verdict="FAIL"\} 1/);
  // Another run of the scenario is counted.
  recordReport(report('scn-retry', 'run-r2', 'FAIL', 1));
  assert.equal(await count('scn-retry', 'FAIL'), 2);
});
