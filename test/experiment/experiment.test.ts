// The experiment end to end against the real stack: the correct payment system
// passes a database kill; abort, UI-style cancellation and the circuit breaker
// stop the run and revert the fault; what was acknowledged is still reconciled (a partial proof).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { summarize } from '../../scripts/cli/experiment.ts';
import type { ExperimentResult, OrdealClient } from '../../scripts/client/index.ts';
import { repoRoot } from '../../scripts/stack/config.ts';
import { OrdealVerdict } from '../../workflows/types.ts';
import { experimentRig, leasesOf, outcomeRows, paymentApiReady, paymentApiRequests, recordHistory, type Rig, shortDbKill, until, untilFaultActive } from './harness.ts';

let ordeal: OrdealClient;
let rig: Rig | undefined;
let loadTaskQueue: string;

before(async () => {
  rig = await experimentRig('test-exp');
  ({ ordeal, loadTaskQueue } = rig);
});
after(async () => {
  await rig?.close();
});

void test('the correct payment system passes a database kill: PASS, fault reverted, every source reconciled', async () => {
  // 100/s for 20 s with a 2 s warm-up ramp = 1900 entries; the SLO is judged on steady state.
  const N = 1900;
  const h = await ordeal.start({ scenario: 'db_failure_peak_load', loadTaskQueue, overrides: [...shortDbKill,
    `ledger.messages=${N}`, 'load.duration=20s', 'load.warmup=2s', 'load.thresholds={p99_ms: 2000, error_rate: 0.05}'] });
  const during = await untilFaultActive(h);
  assert.equal(during.active_faults[0]!.type, 'database_kill');
  assert.equal(during.phase, 'load');
  const r = await h.result();
  if (r.verdict === 'PASS') await recordHistory(ordeal, h.workflowId, 'pass');
  assert.equal(r.verdict, 'PASS', r.reasons.join('\n'));
  const rep = r.report;
  assert.equal(rep.ledger?.count, N);
  // Thresholds held on the steady seconds; the warm-up and the outage (+ recovery + settle) were left out and reported.
  const w = rep.load!.windows!;
  assert.equal(w.scope, 'steady');
  assert.deepEqual(w.excluded.map((e) => e.why.split(':')[0]), ['warm-up', 'database_kill on postgres']);
  const outage = w.excluded[1]!;
  assert.ok(outage.from_s <= rep.faults[0]!.injectedAtS && outage.to_s >= rep.faults[0]!.revertedAtS!, JSON.stringify(w.excluded));
  assert.ok(w.judged.seconds >= 3 && w.judged.requests > 0, JSON.stringify(w.judged));
  assert.ok(w.disturbed && w.disturbed.errors > 0, 'the outage shows in the disturbed seconds');
  assert.deepEqual(rep.load!.thresholds.map((t) => [t.name, t.ok]), [['p99_ms', true], ['error_rate', true]]);
  assert.equal(rep.faults.length, 1);
  // Placed where the scenario put it (faults.0.at=4s), not where the kill's activity returned (~1.5 s later).
  assert.ok(rep.faults[0]!.injectedAtS >= 4 && rep.faults[0]!.injectedAtS < 5, `injected at +${rep.faults[0]!.injectedAtS} s`);
  assert.equal(rep.faults[0]!.revert?.reverted, true);
  assert.ok(rep.faults[0]!.evidence.some((e) => e.ok), 'evidence that the kill was in effect');
  assert.ok(rep.recovery?.recovered, 'recovered');
  assert.ok(rep.recovery!.time_to_healthy_ms !== null && rep.recovery!.time_to_healthy_ms < 45_000);
  assert.equal(rep.redelivery?.still_unacknowledged, 0);
  assert.deepEqual(rep.reconcile?.sources.map((s) => s.source).sort(), ['kafka', 'postgres', 'stripe']);
  for (const s of rep.reconcile!.sources) {
    assert.equal(s.classes.ok.count, N, `${s.source}: every entry ok`);
    for (const c of ['lost', 'duplicated', 'ghost', 'mismatched', 'missing'] as const) assert.equal(s.classes[c].count, 0, `${s.source} ${c}`);
  }
  // Reports on disk; report.json is what `run --json` prints.
  assert.ok(r.paths && existsSync(r.paths.json) && existsSync(r.paths.html) && existsSync(r.paths.junit));
  const json = JSON.parse(readFileSync(r.paths.json, 'utf8'));
  assert.equal(json.verdict, 'PASS');
  assert.equal(json.run_id, r.run_id);
  assert.match(readFileSync(r.paths.junit, 'utf8'), /failures="0"/);
  // What a pipeline reads: `ordeal report <id> --json` is report.json, exit code = verdict.
  const cli = spawnSync('bash', [join(repoRoot, 'scripts', 'ordeal'), 'report', h.workflowId, '--json'], { encoding: 'utf8', env: process.env });
  assert.equal(cli.status, 0, cli.stderr);
  const printed = JSON.parse(cli.stdout);
  assert.equal(printed.run_id, r.run_id);
  assert.equal(printed.scenario, 'db_failure_peak_load');
  assert.equal(printed.verdict, 'PASS');
  assert.equal(printed.counts.postgres.ok, N);
  assert.equal(printed.counts.kafka.lost, 0);
  // The lease says the workflow's worker reverted it, not the watchdog.
  const leases = await leasesOf(r.run_id);
  assert.deepEqual(leases.map((l) => [l.state, l.reverted_by]), [['reverted', 'worker']]);
  assert.deepEqual(await outcomeRows(r.run_id), { rows: N, distinct: N });
  // Search attributes let ops filter runs in the UI.
  const d = await ordeal.client.workflow.getHandle(h.workflowId).describe();
  assert.equal(d.typedSearchAttributes.get(OrdealVerdict), 'PASS');
  const listed = await until('the run to be listed by verdict', async () =>
    (await ordeal.list({ scenario: 'db_failure_peak_load', verdict: 'PASS' })).find((x) => x.workflowId === h.workflowId), 15_000);
  assert.equal(listed.runId, r.run_id);
});

for (const how of ['abort signal', 'cancellation (as from the Temporal UI)'] as const) {
  void test(`${how} mid-fault: ABORTED, fault reverted, partial report written`, async () => {
    const h = await ordeal.start({
      scenario: 'db_failure_peak_load', loadTaskQueue,
      overrides: [...shortDbKill, 'load.duration=60s', 'ledger.messages=6000', 'faults.0.at=3s', 'faults.0.duration=60s',
        'safety.abort_if_down_for=5m'],
    });
    await untilFaultActive(h);
    assert.equal(await paymentApiReady(), false, 'database down while the fault is active');
    if (how === 'abort signal') await h.abort('operator saw enough');
    else await h.cancel();
    const r = await h.result();
    if (how === 'abort signal' && r.verdict === 'ABORTED') await recordHistory(ordeal, h.workflowId, 'aborted');
    assert.equal(r.verdict, 'ABORTED', r.reasons.join('\n'));
    assert.match(r.reasons[0]!, how === 'abort signal' ? /aborted: operator saw enough/ : /cancel/);
    assert.equal(r.report.faults.length, 1);
    assert.equal(r.report.faults[0]!.revert?.reverted, true);
    assert.ok(r.report.load && r.report.load.counts.sent > 0, 'partial load counts in the report');
    assertPartialProof(r);
    assert.deepEqual((await leasesOf(r.run_id)).map((l) => l.state), ['reverted']);
    await until('the payment API to be ready again', paymentApiReady, 30_000);
    // The load stopped with the run: no request reaches the API any more (the ledger had ~55 s to go).
    await sleep(2000);
    const before = await paymentApiRequests();
    await sleep(3000);
    assert.equal(await paymentApiRequests(), before, 'load still running after the run ended');
    const d = await ordeal.client.workflow.getHandle(h.workflowId).describe();
    assert.equal(d.status.name, 'COMPLETED');
    assert.equal(d.typedSearchAttributes.get(OrdealVerdict), 'ABORTED');
  });
}

void test('circuit breaker: a system down longer than abort_if_down_for aborts the run and reverts', async () => {
  const h = await ordeal.start({
    scenario: 'db_failure_peak_load', loadTaskQueue,
    overrides: [...shortDbKill, 'load.duration=60s', 'ledger.messages=6000', 'faults.0.at=3s', 'faults.0.duration=2m',
      'safety.abort_if_down_for=4s', 'safety.probe_interval=500ms'],
  });
  const t0 = Date.now();
  const r = await h.result();
  assert.equal(r.verdict, 'ABORTED', r.reasons.join('\n'));
  assert.match(r.reasons[0]!, /circuit breaker: .*\/ready down for \d+ s/);
  assert.ok(Date.now() - t0 < 60_000, 'aborted long before the 2 min fault would have ended');
  assert.equal(r.report.faults[0]!.revert?.reverted, true);
  assert.deepEqual((await leasesOf(r.run_id)).map((l) => l.state), ['reverted']);
  assertPartialProof(r);
  await until('the payment API to be ready again', paymentApiReady, 30_000);
});

void test('the overall deadline passing mid-fault: ABORTED, fault reverted, a partial proof labelled as such', async () => {
  // The deadline (a workflow timer from the run's start) passes ~10 s into the 60 s fault.
  const h = await ordeal.start({
    scenario: 'db_failure_peak_load', loadTaskQueue,
    overrides: [...shortDbKill, 'load.duration=60s', 'ledger.messages=6000', 'faults.0.at=3s', 'faults.0.duration=60s',
      'safety.abort_if_down_for=5m', 'safety.deadline=20s'],
  });
  await untilFaultActive(h);
  const r = await h.result();
  assert.equal(r.verdict, 'ABORTED', r.reasons.join('\n'));
  assert.equal(r.reasons[0], 'overall deadline of 20000 ms passed');
  assert.equal(r.report.faults[0]!.revert?.reverted, true);
  assert.ok(r.report.faults[0]!.revertedAtS! < 30, `reverted at +${r.report.faults[0]!.revertedAtS} s of load, long before the fault's 60 s`);
  assert.deepEqual((await leasesOf(r.run_id)).map((l) => l.state), ['reverted']);
  assertPartialProof(r);
  await until('the payment API to be ready again', paymentApiReady, 30_000);
});

/**
 * A run cut short still proves what it can: after the revert, every acknowledged entry
 * is in every system of record exactly once (the correct system), the entries never
 * sent are counted and not judged, and the reports say it is a partial proof.
 */
function assertPartialProof(r: ExperimentResult): void {
  const rec = r.report.reconcile;
  assert.ok(rec, `a partial proof was made: ${r.reasons.join('\n')}`);
  assert.equal(rec.scope, 'acknowledged');
  assert.equal(rec.exactlyOnce, true, rec.failures.join('\n'));
  assert.ok(rec.outcomes.acknowledged > 0, 'something was acknowledged before the stop');
  assert.equal(rec.outcomes.acknowledged + rec.outcomes.failed + rec.outcomes.unknown + rec.outcomes.none, rec.ledgerCount);
  assert.deepEqual(rec.sources.map((s) => s.source).sort(), ['kafka', 'postgres', 'stripe']);
  for (const s of rec.sources) {
    assert.equal(s.classes.ok.count, rec.outcomes.acknowledged, `${s.source}: every acknowledged entry present exactly once`);
    for (const c of ['lost', 'duplicated', 'ghost', 'mismatched'] as const) assert.equal(s.classes[c].count, 0, `${s.source} ${c}`);
  }
  assert.equal(r.report.proof?.kind, 'partial');
  const detail = /the (\d+) acknowledged entries were reconciled .*: exactly-once held\. Not judged: (\d+) entries never sent, (\d+) sent without/.exec(r.report.proof.detail);
  assert.ok(detail, r.report.proof.detail);
  assert.equal(Number(detail[1]), rec.outcomes.acknowledged);
  assert.ok(Number(detail[2]) > 1000, `most of the 6,000 entries were never sent: ${r.report.proof.detail}`);
  assert.equal(Number(detail[1]) + Number(detail[2]) + Number(detail[3]), rec.ledgerCount);
  assert.ok(r.paths && existsSync(r.paths.json), 'partial report written');
  const json = JSON.parse(readFileSync(r.paths.json, 'utf8'));
  assert.equal(json.verdict, 'ABORTED');
  assert.equal(json.proof.kind, 'partial');
  assert.match(readFileSync(r.paths.html, 'utf8'), /<p class="proof" data-proof="partial"><strong>Partial proof<\/strong>/);
  assert.match(summarize(r, 'http://ui'), /^proof: partial: the run was cut short; /m);
  assert.match(readFileSync(r.paths.junit, 'utf8'), /<property name="proof" value="partial"\/>/);
}
