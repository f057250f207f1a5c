// Reports from a real reconciliation (data planted in the stack's PostgreSQL):
// report.json, junit.xml and report.html contents, and the HTML rendered in
// headless Chromium with its charts drawn.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import type { LedgerSpec } from '../../activities/ledger/index.ts';
import { createReconcileActivities, formatMoney, outcomeClasses, sqlOutcomeSource } from '../../activities/reconcile/index.ts';
import type { ReconcileResult } from '../../activities/reconcile/index.ts';
import { createReportActivities, reportChecks } from '../../activities/report/index.ts';
import type { ExperimentReport, ReportJson, ReportPaths } from '../../activities/report/index.ts';
import type { TimelinePoint } from '../../activities/load/types.ts';
import { asRow, entries, ordealUrl, OutcomeTable, PaymentsTable, suffix } from '../reconcile/plant.ts';
import { countColor, dumpDom, screenshot } from './browser.ts';
import { proofSummary } from '../../workflows/proof.ts';
import { findAll, parseXml } from './xml.ts';

process.env.ORDEAL_LOG_LEVEL ??= 'error';

const dir = process.env.ORDEAL_KEEP_TEST_REPORTS ?? mkdtempSync(join(tmpdir(), 'ordeal-reports-'));
const reports = createReportActivities({ dir });
const outcomes = new OutcomeTable();
const payments = new PaymentsTable();

after(async () => {
  await Promise.allSettled([outcomes.drop(), payments.drop()]);
  if (!process.env.ORDEAL_KEEP_TEST_REPORTS) rmSync(dir, { recursive: true, force: true });
});

/** A run with a real reconciliation: 2 lost, 1 duplicated, 1 ghost in PostgreSQL. */
async function realReconciliation(runId: string, scope: ReconcileResult['scope'] = 'full'): Promise<ReconcileResult> {
  const spec: LedgerSpec = { messages: 30, seed: 9, amount_cents: [500, 90_000], currency: ['usd', 'eur'], customers: 5 };
  const e = entries(runId, spec);
  await outcomes.insert(runId, e.map((x) => ({ message_id: x.message_id, outcome: x.seq === 7 ? 'unknown' : 'acknowledged' })));
  await payments.insert([
    ...e.filter((x) => x.seq !== 3 && x.seq !== 4).map((x) => asRow(runId, x)),
    asRow(runId, e[5]!),
    { message_id: `${runId}-00000999`, amount_cents: 4200, currency: 'usd', test_run_id: runId },
  ]);
  const reconcile = createReconcileActivities({ outcomes: () => sqlOutcomeSource(ordealUrl, outcomes.query) });
  return reconcile.reconcile({ runId, ledger: spec, sources: [{ source: 'postgres', name: 'payments-db', query: payments.query }], scope });
}

function timeline(): TimelinePoint[] {
  return Array.from({ length: 60 }, (_, t) => {
    const inFault = t >= 20 && t < 35;
    return { t, sent: 1000, ok: inFault ? 600 : 1000, errors: inFault ? 400 : 0,
      p50_ms: inFault ? 220 : 4 + (t % 3), p95_ms: inFault ? 800 : 11, p99_ms: inFault ? 1500 : 19 };
  });
}

function experimentReport(runId: string, reconcile: ReconcileResult | null): ExperimentReport {
  const start = Date.parse('2026-11-27T08:00:00Z');
  const at = (s: number) => new Date(start + s * 1000).toISOString();
  return {
    run_id: runId,
    workflow_id: `ordeal-${runId}`,
    scenario: 'db_failure_peak_load',
    verdict: 'FAIL',
    reasons: [...(reconcile?.failures ?? []), 'threshold p99_ms broken: 1500 > 1000', 'a <b>bold</b> & "quoted" reason'],
    started_at: at(0),
    ended_at: at(95),
    phases: [
      { phase: 'generating-ledger', started_at: at(0), ended_at: at(1) },
      { phase: 'load', started_at: at(2), ended_at: at(62) },
      { phase: 'reconcile', started_at: at(80), ended_at: at(90) },
      { phase: 'report', started_at: at(90), ended_at: null },
    ],
    ledger: { count: 30, seed: 9, totals_by_currency: { usd: 1, eur: 2 }, json_path: '/tmp/l.json', csv_path: '/tmp/l.csv' },
    load: {
      counts: { sent: 60_000, requests: 66_100, acked: 54_000, failed: 0, unknown: 6000, late: 12, dropped: 0, retries: 6100,
        errorsByClass: { timeout: 4000, http_5xx: 2000 } },
      latency_ms: { p50: 5, p95: 640, p99: 1500, max: 2900, mean: 90 },
      latency_uncorrected_ms: { p50: 5, p95: 300, p99: 700, max: 2100, mean: 40 },
      achieved_rate: 999.2,
      error_rate: 0.1,
      timeline: timeline(),
      thresholds: [
        { name: 'p99_ms', limit: 1000, actual: 1500, ok: false, reason: 'p99_ms 1500ms over 1000ms' },
        { name: 'error_rate', limit: 0.2, actual: 0.1, ok: true, reason: 'error_rate 0.1 within 0.2' },
      ],
      thresholdsOk: false,
      windows: {
        scope: 'steady',
        excluded: [{ from_s: 19, to_s: 40, why: 'database_kill and recovery', kind: 'fault' },
          { from_s: 46, to_s: 53, why: 'harness gap: no load worker sent for shard 1 for 5.0 s', kind: 'harness_gap' }],
        judged: { seconds: 39, requests: 39_000, errors: 0, error_rate: 0, rate: 1000,
          latency_ms: { p50: 5, p95: 11, p99: 19, max: 40, mean: 6 }, exact: true },
        disturbed: { seconds: 21, requests: 21_000, errors: 6000, error_rate: 0.2857, rate: 1000,
          latency_ms: { p50: 220, p95: 800, p99: 1500, max: 2900, mean: 300 }, exact: true },
      },
      mismatches: [],
      harness_gaps: [{ shard: 0, from_s: 46, to_s: 53, why: 'harness gap: no load worker sent for shard 1 for 5.0 s', kind: 'harness_gap' }],
      workers: ['worker-a'],
      cancelled: false,
    },
    faults: [
      {
        handle: { faultId: 'f-db', runId, type: 'database_kill', target: 'postgres', backend: 'process', injectedAt: at(22),
          leaseExpiresAt: at(322), revert: { pid: 4242 } },
        evidence: [{ faultId: 'f-db', observedAt: at(22), description: 'postgres pid 4242 gone', ok: true }],
        revert: { faultId: 'f-db', reverted: true, alreadyReverted: false },
        injectedAtS: 20,
        revertedAtS: 35,
      },
      {
        handle: { faultId: 'f-lat', runId, type: 'network_latency', target: 'kafka', backend: 'toxiproxy', injectedAt: at(42),
          leaseExpiresAt: at(342), revert: { toxic: 'latency_kafka' } },
        evidence: [{ faultId: 'f-lat', observedAt: at(42), description: 'toxic latency_kafka on proxy kafka: 300ms', ok: true }],
        revert: { faultId: 'f-lat', reverted: true, alreadyReverted: false },
        injectedAtS: 40,
        revertedAtS: 45,
      },
    ],
    recovery: { time_to_healthy_ms: 2300, time_to_first_success_ms: 3100, recovered: true },
    redelivery: { resent: 6000, acked: 5999, still_unacknowledged: 1 },
    drain: { lag_zero: true, waited_ms: 1200 },
    reconcile,
    proof: proofSummary(reconcile, 'the run was aborted'),
  };
}

void describe('reports of a failed run', () => {
  const runId = `rep-${suffix()}`;
  let report: ExperimentReport;
  let paths: ReportPaths;

  before(async () => {
    await Promise.all([outcomes.create(), payments.create()]);
    report = experimentReport(runId, await realReconciliation(runId));
    paths = await reports.writeReports(report);
  });

  void test('files land in <dir>/<run_id>/', () => {
    assert.equal(paths.dir, join(dir, runId));
    for (const p of [paths.json, paths.html, paths.junit]) assert.ok(existsSync(p), p);
  });

  void test('report.json is the report itself plus counts per class per source', () => {
    const json = JSON.parse(readFileSync(paths.json, 'utf8')) as ReportJson;
    assert.equal(json.run_id, runId);
    assert.equal(json.scenario, 'db_failure_peak_load');
    assert.equal(json.verdict, 'FAIL');
    assert.deepEqual(json.reconcile, report.reconcile);
    assert.deepEqual(json.faults, report.faults);
    assert.deepEqual(json.counts, {
      'payments-db': { ok: 26, lost: 2, duplicated: 1, ghost: 1, mismatched: 0, unacknowledged: 1, missing: 0 },
    });
  });

  void test('junit.xml: one testcase per check, failures where the run failed', () => {
    const xml = readFileSync(paths.junit, 'utf8');
    const root = parseXml(xml);
    assert.equal(root.name, 'testsuites');
    const cases = findAll(root, 'testcase');
    // 7 classes for the one source, 2 thresholds, idempotent answers, 2 reverts, recovery, proof, verdict.
    assert.equal(cases.length, 7 + 2 + 1 + 2 + 1 + 1 + 1);
    assert.equal(root.attrs.tests, String(cases.length));
    const failed = cases.filter((c) => c.children.some((x) => x.name === 'failure'));
    assert.deepEqual(failed.map((c) => `${c.attrs.classname} / ${c.attrs.name}`).sort(), [
      'ordeal.db_failure_peak_load.proof / proof (full)',
      'ordeal.db_failure_peak_load.reconcile.payments-db / duplicated = 0',
      'ordeal.db_failure_peak_load.reconcile.payments-db / ghost = 0',
      'ordeal.db_failure_peak_load.reconcile.payments-db / lost = 0',
      'ordeal.db_failure_peak_load.thresholds / p99_ms <= 1000',
      'ordeal.db_failure_peak_load.verdict / verdict',
    ]);
    assert.equal(root.attrs.failures, '6');
    assert.equal(root.attrs.errors, '0');
    const lost = failed.find((c) => c.attrs.name === 'lost = 0')!.children[0]!;
    const lostTally = report.reconcile!.sources[0]!.classes.lost;
    assert.equal(lost.attrs.message, `payments-db: 2 lost (${formatMoney(lostTally.money)})`);
    for (const id of lostTally.ids) assert.ok(lost.text.includes(id), `failure text names ${id}`);
    const verdict = failed.find((c) => c.attrs.name === 'verdict')!.children[0]!;
    assert.ok(verdict.attrs.message!.includes('a <b>bold</b> & "quoted" reason'), 'reasons survive escaping intact');
    const recovery = cases.find((c) => c.attrs.classname!.endsWith('.recovery'))!;
    assert.equal(recovery.attrs.time, '2.300');
    const props = findAll(root, 'property');
    assert.deepEqual(Object.fromEntries(props.map((p) => [p.attrs.name, p.attrs.value])),
      { run_id: runId, workflow_id: `ordeal-${runId}`, scenario: 'db_failure_peak_load', verdict: 'FAIL', proof: 'full' });
    const proof = failed.find((c) => c.attrs.name === 'proof (full)')!.children[0]!;
    assert.equal(proof.attrs.message, `full proof: ${report.proof!.detail}`);
    assert.match(proof.attrs.message!, /^full proof: all 30 ledger entries reconciled against payments-db after redelivery: exactly-once broken/);
  });

  void test('report.html: self-contained, verdict and reasons up front, classes with ids and money', () => {
    const html = readFileSync(paths.html, 'utf8');
    assert.ok(html.length > 500_000, 'echarts is inlined');
    assert.doesNotMatch(html, /<script[^>]+src=|<link[^>]+href=|url\(\s*['"]?https?:/i, 'no external resources');
    assert.match(html, /<div class="badge" id="verdict">FAIL<\/div>/);
    assert.ok(html.includes('a &lt;b&gt;bold&lt;/b&gt; &amp; &quot;quoted&quot; reason'), 'reasons are escaped');
    assert.ok(!html.includes('<b>bold</b>'), 'no raw markup from report text');
    const source = report.reconcile!.sources[0]!;
    for (const cls of outcomeClasses) {
      const t = source.classes[cls];
      const row = new RegExp(`<tr class="[^"]*" data-class="${cls}">.*?</tr>`, 's').exec(html)?.[0] ?? '';
      assert.ok(row.includes(`<td class="n">${t.count.toLocaleString('en')}</td>`), `${cls} count in ${row}`);
      assert.ok(row.includes(formatMoney(t.money)), `${cls} money`);
      for (const id of t.ids) assert.ok(row.includes(id), `${cls} id ${id}`);
    }
    assert.match(html, /<tr class="bad" data-class="lost">/);
    assert.match(html, /<tr class="good" data-class="mismatched">/);
    assert.ok(html.includes('2.3 s') || html.includes('2300 ms'), 'time to healthy shown');
    // The headline cards separate steady state from the outage, as the thresholds were judged.
    const cardOf = (label: string) => new RegExp(`<div class="label">${label}</div><div class="value">([^<]*)</div><div class="hint">([^<]*)</div>`).exec(html);
    const steady = cardOf('steady state p99 / error rate');
    assert.ok(steady, 'steady-state card present');
    assert.equal(steady[1], '19 ms / 0 %');
    assert.match(steady[2]!, /while disturbed: p99 1,?500 ms, error rate 28.57 %/);
    assert.match(cardOf('achieved rate')?.[2] ?? '', /error rate 10 % over the whole phase/);
    assert.ok(cardOf('latency p50 / p95 / p99 \\(whole phase\\)'), 'whole-phase latency labelled as such');
  });

  void test('report.html renders in headless Chromium: both charts drawn with the fault windows shaded', async (t) => {
    const dom = await dumpDom(paths.html);
    assert.doesNotMatch(dom, /<body[^>]*data-charts-error/, "no chart error");
    assert.match(dom, /data-charts-rendered="2"/);
    for (const id of ['chart-latency', 'chart-throughput']) {
      const start = dom.indexOf(`id="${id}"`);
      const end = dom.indexOf('<h2', start);
      const chart = dom.slice(start, end);
      assert.ok(chart.includes('<svg'), `${id} has an svg`);
      const paths = chart.match(/<path /g)?.length ?? 0;
      assert.ok(paths >= 10, `${id} drew ${paths} paths`);
      // The series lines have one point per second of the timeline.
      const longest = Math.max(...[...chart.matchAll(/ d="([^"]+)"/g)].map((m) => (m[1]!.match(/L/g) ?? []).length));
      assert.ok(longest >= 50, `${id}: longest path has ${longest} segments`);
    }
    assert.ok(dom.includes('database_kill · postgres'), 'fault window labelled');

    const png = await screenshot(paths.html, join(paths.dir, 'report.png'));
    t.diagnostic(`screenshot ${join(paths.dir, 'report.png')} ${png.width}x${png.height}`);
    // rgba(207, 34, 46, 0.14) over white, and the p50 line's blue.
    const shade = countColor(png, [248, 224, 226], 5);
    const blue = countColor(png, [0x09, 0x69, 0xda], 40);
    assert.ok(shade > 20_000, `fault windows shaded: ${shade} px`);
    // The harness gap in its own colour: rgba(130, 80, 223, 0.18) over white.
    const purple = countColor(png, [232, 224, 249], 5);
    assert.ok(purple > 3000, `harness gap shaded purple: ${purple} px`);
    // The p50 line hides under p95/p99 where they coincide; in the fault window it stands alone.
    assert.ok(blue > 300, `p50 line drawn: ${blue} px`);
    // The verdict badge: red (#cf222e) block at the top.
    assert.ok(countColor(png, [207, 34, 46], 8, 0, 140) > 3000, 'verdict badge visible at the top');
  });
});

void describe('reports of an aborted run and bad input', () => {
  void test('junit.xml of a partial proof: its kind and numbers as properties, its classes among the acknowledged in one testcase', async () => {
    const runId = `part-${suffix()}`;
    // The tables were planted by the suite above (node:test runs the describes in order).
    const reconcile = await realReconciliation(runId, 'acknowledged');
    const neverSent = 0;
    const report: ExperimentReport = { ...experimentReport(runId, reconcile), verdict: 'ABORTED', reasons: ['aborted: enough'],
      proof: proofSummary(reconcile, '', neverSent) };
    const paths = await reports.writeReports(report);
    const root = parseXml(readFileSync(paths.junit, 'utf8'));
    const props = Object.fromEntries(findAll(root, 'property').map((p) => [p.attrs.name, p.attrs.value]));
    // 29 of the 30 entries were acknowledged (seq 7 has no definitive answer).
    assert.equal(reconcile.outcomes.acknowledged, 29);
    assert.deepEqual([props.proof, props.proof_acknowledged, props.proof_never_sent, props.proof_unanswered], ['partial', '29', '0', '1']);
    const cases = findAll(root, 'testcase');
    const proof = cases.find((c) => c.attrs.name === 'proof (partial)');
    assert.ok(proof, cases.map((c) => c.attrs.name).join(', '));
    assert.equal(proof.attrs.classname, 'ordeal.db_failure_peak_load.proof');
    // The planted losses, duplicate and ghost are among the acknowledged: the partial proof failed, and says how.
    const failure = proof.children.find((x) => x.name === 'failure')!;
    const c = reconcile.sources[0]!.classes;
    assert.deepEqual([c.lost.count, c.duplicated.count, c.ghost.count, c.mismatched.count], [2, 1, 1, 0]);
    assert.equal(failure.attrs.message, 'partial proof: among the 29 acknowledged entries: payments-db lost 2, duplicated 1, ghost 1, mismatched 0; '
      + 'never sent 0, sent without a definitive answer 1 (neither judged)');
    assert.ok(failure.text.includes(report.proof!.detail), failure.text);
    assert.match(readFileSync(paths.html, 'utf8'), /<p class="proof" data-proof="partial"><strong>Partial proof<\/strong>/);
    // A held partial proof passes its testcase, the line in its output; no proof at all is skipped, with why.
    const held = { ...report, reconcile: { ...reconcile, exactlyOnce: true } };
    const ok = reportChecks(held).find((x) => x.suite === 'proof')!;
    assert.equal(ok.status, 'passed');
    assert.match(ok.detail!, /^partial proof: among the 29 acknowledged entries: payments-db lost 2/);
    const none = reportChecks({ ...report, reconcile: null, proof: proofSummary(null, 'the run stopped before anything was sent') }).find((x) => x.suite === 'proof')!;
    assert.deepEqual([none.status, none.message], ['skipped', 'no proof: nothing was reconciled: the run stopped before anything was sent']);
  });

  void test('no reconciliation, no timeline, a fault that could not be reverted: still complete reports', async () => {
    const runId = `abort-${suffix()}`;
    const base = experimentReport(runId, null);
    const report: ExperimentReport = {
      ...base,
      verdict: 'ERROR',
      reasons: ['revert of network_partition on postgres failed: toxiproxy unreachable'],
      load: null,
      recovery: null,
      faults: [{ ...base.faults[0]!, handle: { ...base.faults[0]!.handle, type: 'network_partition' },
        revert: { faultId: 'f-db', reverted: false, alreadyReverted: false, error: 'toxiproxy unreachable' }, revertedAtS: null }],
    };
    const paths = await reports.writeReports(report);
    const root = parseXml(readFileSync(paths.junit, 'utf8'));
    const cases = findAll(root, 'testcase');
    const byName = (n: string) => cases.find((c) => c.attrs.name!.startsWith(n))!;
    assert.equal(byName('reconciliation').children[0]!.name, 'skipped');
    assert.equal(byName('revert network_partition').children[0]!.name, 'error');
    assert.match(byName('revert network_partition').children[0]!.attrs.message!, /may still be active/);
    assert.equal(byName('system recovered').children[0]!.name, 'skipped');
    assert.equal(byName('verdict').children[0]!.name, 'error');
    const json = JSON.parse(readFileSync(paths.json, 'utf8')) as ReportJson;
    assert.deepEqual(json.counts, {});
    const html = readFileSync(paths.html, 'utf8');
    assert.match(html, /data-charts-expected="0"/);
    assert.match(html, /never reverted|failed: toxiproxy unreachable/);
    const dom = await dumpDom(paths.html);
    assert.doesNotMatch(dom, /<body[^>]*data-charts-error/);
  });

  void test('checks mirror the report: a passing run has only passing checks', () => {
    const report: ExperimentReport = { ...experimentReport('pass-1', null), verdict: 'PASS', reasons: [] };
    report.load!.thresholds = report.load!.thresholds.map((t) => ({ ...t, ok: true }));
    // Without a reconciliation in this report its proof is none (a skipped check): only the rest is judged here.
    const checks = reportChecks(report).filter((c) => c.suite !== 'reconcile' && c.suite !== 'proof');
    assert.ok(checks.length > 0 && checks.every((c) => c.status === 'passed'), JSON.stringify(checks));
  });

  void test('an idempotency key answered with two payments fails its check and is listed in the HTML', async () => {
    const base = experimentReport(`mm-${suffix()}`, null);
    const report: ExperimentReport = { ...base, load: { ...base.load!, mismatches: [
      { message_id: 'm-1', idempotency_key: 'idem-m-1', payment_ids: ['pay_a', 'pay_b'], pattern: 'idempotency_race' }],
    timeline: base.load!.timeline.map((p) => ({ ...p, hist: 'HISTOGRAM-'.repeat(10) })) } };
    const check = reportChecks(report).find((c) => c.suite === 'load')!;
    assert.equal(check.status, 'failed');
    assert.match(check.detail!, /idem-m-1 \(idempotency_race\): pay_a vs pay_b/);
    const paths = await reports.writeReports(report);
    const html = readFileSync(paths.html, 'utf8');
    assert.match(html, /<h2>Idempotency mismatches<\/h2>/);
    assert.ok(html.includes('<code>pay_a</code> <code>pay_b</code>'));
    assert.ok(!html.includes('HISTOGRAM-'), 'per-second histograms are not embedded in the page');
    assert.ok(readFileSync(paths.json, 'utf8').includes('HISTOGRAM-'), 'report.json is the report itself');
  });

  void test('a run id that is not a plain name is refused, non-retryably', async () => {
    for (const run_id of ['../escape', 'a/b', '..', '']) {
      await assert.rejects(reports.writeReports({ ...experimentReport('x', null), run_id }),
        (err: unknown) => err instanceof ApplicationFailure && err.nonRetryable === true, run_id);
    }
  });
});
