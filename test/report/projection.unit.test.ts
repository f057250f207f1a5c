// The money projection (a day and a year at the run's rate) and the report's links
// to its dashboards: pure functions over a report, rendered into the HTML.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dashboardLink, moneyProjection, reportChecks, reportHtml, reportJson, runLinks, type ExperimentReport } from '../../activities/report/index.ts';
import { outcomeClasses, type ClassTally, type OutcomeClass } from '../../activities/reconcile/types.ts';

const tally = (count: number, money: Record<string, number> = {}): ClassTally =>
  ({ count, amount_cents: Object.values(money).reduce((a, b) => a + b, 0), money, ids: [] });

function report(seconds: number, sent: number, classes: Partial<Record<OutcomeClass, ClassTally>>): ExperimentReport {
  const all = Object.fromEntries(outcomeClasses.map((c) => [c, classes[c] ?? tally(0)])) as Record<OutcomeClass, ClassTally>;
  return {
    run_id: 'r-proj', workflow_id: 'wf-proj', scenario: 'db_failure_peak_load', verdict: 'FAIL', reasons: [],
    started_at: '2026-12-04T10:00:00.000Z', ended_at: '2026-12-04T10:02:00.000Z',
    phases: [{ phase: 'load', started_at: '2026-12-04T10:00:10.000Z', ended_at: '2026-12-04T10:01:40.000Z' }],
    ledger: { count: sent, seed: 1, totals_by_currency: { usd: 100 * sent }, json_path: '', csv_path: '' },
    load: {
      counts: { sent, requests: sent, acked: sent, failed: 0, unknown: 0, late: 0, dropped: 0, retries: 0, errorsByClass: {} },
      latency_ms: { p50: 1, p95: 2, p99: 3, max: 4, mean: 1 }, latency_uncorrected_ms: { p50: 1, p95: 2, p99: 3, max: 4, mean: 1 },
      achieved_rate: sent / seconds, error_rate: 0,
      timeline: Array.from({ length: seconds }, (_, t) => ({ t, sent: sent / seconds, ok: sent / seconds, errors: 0, p50_ms: 1, p95_ms: 2, p99_ms: 3 })),
      thresholds: [], thresholdsOk: true, mismatches: [], workers: [], cancelled: false,
    },
    faults: [], recovery: null, redelivery: null, drain: null,
    reconcile: {
      runId: 'r-proj', ledgerCount: sent, exactlyOnce: false, failures: [],
      outcomes: { acknowledged: sent, failed: 0, unknown: 0, none: 0 },
      sources: [{ source: 'postgres', kind: 'postgres', records: sent, classes: all, warnings: [], duration_ms: 1 }],
    } as unknown as ExperimentReport['reconcile'],
  };
}

void test('money at risk is projected to a day and a year at the run\'s rate, labelled a projection', () => {
  // 90 s at 1000 messages/s; 2 lost payments worth usd 12.34 and a duplicate worth usd 5.00.
  const r = report(90, 90_000, { lost: tally(2, { usd: 1234 }), duplicated: tally(1, { usd: 500 }), ok: tally(89_997) });
  const p = moneyProjection(r)!;
  assert.equal(p.rate_per_s, 1000);
  assert.equal(p.load_seconds, 90);
  assert.match(p.label, /^Projection from this run: .* 90 s of load at 1000 messages\/s.*Not a measurement\./);
  const lost = p.classes.find((c) => c.class === 'lost')!;
  // 1234 cents per 90 s → × 86400/90 = 960 per day → 1,184,640 cents; × 365 a year.
  assert.deepEqual(lost.per_day, { usd: 1_184_640 });
  assert.deepEqual(lost.per_year, { usd: 1_184_640 * 365 });
  assert.deepEqual(p.classes.map((c) => c.class), ['lost', 'duplicated']);
  // Nothing at risk, or nothing sent: no projection at all.
  assert.equal(moneyProjection(report(90, 90_000, { ok: tally(90_000) })), null);
  assert.equal(moneyProjection(report(0, 0, { lost: tally(2, { usd: 1 }) })), null);

  const json = reportJson(r);
  assert.deepEqual(json.projection?.classes[0]?.per_day, { usd: 1_184_640 });
  const html = reportHtml(r, reportChecks(r));
  assert.match(html, /<h3>Business impact \(projection\)<\/h3>/);
  assert.match(html, /usd 11,846\.40<\/td><td class="n">usd 4,323,936\.00/);
});

void test('the report links to the Temporal UI and to the three dashboards over the run\'s time range', () => {
  const r = report(90, 90_000, { ok: tally(90_000) });
  const b = { temporalUi: 'http://127.0.0.1:8233/', grafana: 'http://grafana.local:3000' };
  const links = runLinks(r, b);
  assert.equal(links.temporal_ui, 'http://127.0.0.1:8233/namespaces/default/workflows/wf-proj');
  const u = new URL(dashboardLink(r, b, 'business'));
  assert.equal(u.pathname, '/d/ordeal-business-kpis');
  assert.equal(u.searchParams.get('var-run_id'), 'r-proj');
  assert.equal(u.searchParams.get('var-scenario'), 'db_failure_peak_load');
  assert.equal(Number(u.searchParams.get('from')), Date.parse(r.started_at) - 60_000);
  assert.equal(Number(u.searchParams.get('to')), Date.parse(r.ended_at) + 60_000);
  assert.deepEqual(Object.keys(links.dashboards), ['overview', 'business', 'health']);
  const html = reportHtml(r, reportChecks(r));
  assert.equal((html.match(/class="dashboard"/g) ?? []).length, 3);
  assert.match(html, /Load Test Overview<\/a> · <a class="dashboard" data-dashboard="business"/);
});
