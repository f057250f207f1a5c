// report.html: one self-contained file that opens offline. Tables are rendered
// here (readable without JavaScript); the charts are drawn in the browser by the
// echarts library inlined from node_modules, from the report data embedded as JSON.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { formatMoney } from '../reconcile/money.ts';
import { dashboards, runLinks } from './links.ts';
import { moneyProjection } from './projection.ts';
import { failingClassesOf, outcomeClasses } from '../reconcile/types.ts';
import type { SourceReconciliation } from '../reconcile/types.ts';
import { ms, redeliveryDetail } from './checks.ts';
import type { ExperimentReport, ReportCheck } from './types.ts';

let echartsSource: string | undefined;
/** The echarts library, ready to inline in a <script> element. */
export function echartsLibrary(): string {
  if (echartsSource === undefined) {
    const path = createRequire(import.meta.url).resolve('echarts/dist/echarts.common.min');
    echartsSource = inlineScript(readFileSync(path, 'utf8'));
  }
  return echartsSource;
}

/** Text that must not end the <script> element it is inlined in. */
export function inlineScript(js: string): string {
  return js.replace(/<\/script/gi, '<\\/script').replace(/<!--/g, '<\\!--');
}

/** JSON that can sit inside a <script type="application/json"> element. */
export const jsonForScript = (v: unknown): string => JSON.stringify(v).replace(/</g, '\\u003c');

/** The start of a page, up to its title (the report and the live view share it). */
export function htmlHead(title: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>`;
}

export function esc(s: unknown): string {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

const verdictColor: Record<string, string> = { PASS: '#1a7f37', FAIL: '#cf222e', ABORTED: '#9a6700', ERROR: '#8250df' };
const classLabel: Record<string, string> = {
  ok: 'ok', lost: 'lost (acknowledged, absent)', duplicated: 'duplicated', ghost: 'ghost (not in ledger)',
  mismatched: 'mismatched (amount/currency)', unacknowledged: 'unacknowledged, present once', missing: 'missing (unacknowledged, absent)',
};

function num(v: number | null | undefined, digits = 0): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  return v.toLocaleString('en', { maximumFractionDigits: digits });
}

/** Milliseconds with the precision that matters at their size. */
function lat(v: number | null | undefined): string {
  return num(v, v !== null && v !== undefined && Math.abs(v) < 100 ? 1 : 0);
}

function card(label: string, value: string, hint = ''): string {
  return `<div class="card"><div class="label">${esc(label)}</div><div class="value">${esc(value)}</div>${hint ? `<div class="hint">${esc(hint)}</div>` : ''}</div>`;
}

function sourceTable(s: SourceReconciliation, failing: ReadonlySet<string>): string {
  const rows = outcomeClasses.map((c) => {
    const t = s.classes[c];
    const bad = failing.has(c) && t.count > 0;
    const ids = t.ids.length > 0 ? `${t.ids.map((id) => `<code>${esc(id)}</code>`).join(' ')}${t.count > t.ids.length ? ' …' : ''}` : '';
    return `<tr class="${bad ? 'bad' : failing.has(c) ? 'good' : ''}" data-class="${c}"><td>${esc(classLabel[c] ?? c)}</td>`
      + `<td class="n">${num(t.count)}</td><td class="n">${esc(formatMoney(t.money))}</td><td class="ids">${ids}</td></tr>`;
  }).join('\n');
  const warnings = s.warnings.length > 0 ? `<ul class="warnings">${s.warnings.map((w) => `<li>${esc(w)}</li>`).join('')}</ul>` : '';
  return `<section class="source" data-source="${esc(s.source)}"><h3>${esc(s.source)} <span class="kind">${esc(s.kind)}</span>`
    + ` <span class="muted">${num(s.records)} records read in ${ms(s.duration_ms)}</span></h3>
<table class="classes"><thead><tr><th>class</th><th class="n">messages</th><th class="n">money</th><th>example ids</th></tr></thead>
<tbody>${rows}</tbody></table>${warnings}</section>`;
}

function checkText(c: ReportCheck): string {
  if (c.status === 'passed' || !c.message) return esc(c.detail ?? c.message ?? '');
  return `${esc(c.message)}${c.detail && c.detail !== c.message ? `<div class="muted pre">${esc(c.detail)}</div>` : ''}`;
}

function checksTable(checks: ReportCheck[]): string {
  const rows = checks.map((c) => `<tr class="${c.status === 'passed' ? '' : c.status === 'skipped' ? 'skip' : 'bad'}"><td>${esc(c.suite)}</td>`
    + `<td>${esc(c.name)}</td><td class="status ${c.status}">${esc(c.status)}</td><td>${checkText(c)}</td></tr>`).join('\n');
  return `<table><thead><tr><th>suite</th><th>check</th><th>status</th><th>detail</th></tr></thead><tbody>${rows}</tbody></table>`;
}

export function reportHtml(r: ExperimentReport, checks: ReportCheck[]): string {
  const color = verdictColor[r.verdict] ?? '#57606a';
  const load = r.load;
  const c = load?.counts;
  const durationS = Math.max(0, (Date.parse(r.ended_at) - Date.parse(r.started_at)) / 1000);
  const timeline = load?.timeline ?? [];
  const chartsExpected = timeline.length > 0 ? 2 : 0;
  const steady = load?.windows?.scope === 'steady' && (load.thresholds ?? []).length > 0 ? load.windows : undefined;

  const cards = [
    card('ledger messages', num(r.ledger?.count ?? null)),
    card('sent / acknowledged', c ? `${num(c.sent)} / ${num(c.acked)}` : '—', c ? `failed ${num(c.failed)}, unknown ${num(c.unknown)}` : ''),
    card('achieved rate', load ? `${num(load.achieved_rate, 1)} /s` : '—',
      load ? `error rate ${num((load.error_rate ?? 0) * 100, 2)} % over the whole phase${load.knee_rate != null ? `; knee at ${num(load.knee_rate)} /s` : ''}` : ''),
    // When thresholds were judged on steady state, the whole-phase figures mix the outage in;
    // the steady and disturbed figures are the ones a reader compares with the thresholds.
    ...(steady ? [card('steady state p99 / error rate', `${lat(steady.judged.latency_ms.p99)} ms / ${num(steady.judged.error_rate * 100, 2)} %`,
      steady.disturbed ? `while disturbed: p99 ${lat(steady.disturbed.latency_ms.p99)} ms, error rate ${num(steady.disturbed.error_rate * 100, 2)} %` : 'nothing left out')] : []),
    card(`latency p50 / p95 / p99${steady ? ' (whole phase)' : ''}`, load ? `${lat(load.latency_ms.p50)} / ${lat(load.latency_ms.p95)} / ${lat(load.latency_ms.p99)} ms` : '—',
      load ? `mean ${lat(load.latency_ms.mean)}, max ${lat(load.latency_ms.max)} ms; from actual send time p99 ${lat(load.latency_uncorrected_ms.p99)} ms` : ''),
    card('time to healthy', ms(r.recovery?.time_to_healthy_ms ?? null), 'from the last revert to the first healthy probe'),
    card('time to first success', ms(r.recovery?.time_to_first_success_ms ?? null), 'from the last revert to the first successful request'),
    card('redelivered', r.redelivery ? `${num(r.redelivery.resent)} → ${num(r.redelivery.acked)} acked` : '—',
      r.redelivery ? redeliveryDetail(r.redelivery) : ''),
    card('drain', r.drain ? (r.drain.lag_zero ? `lag 0 after ${ms(r.drain.waited_ms)}` : `lag not 0 after ${ms(r.drain.waited_ms)}`) : '—'),
  ].join('\n');

  const faults = r.faults.length === 0 ? '<p class="muted">No faults were injected.</p>' : `<table><thead><tr><th>fault</th><th>target</th><th>backend</th>
<th class="n">injected at</th><th class="n">reverted at</th><th>revert</th><th>evidence</th></tr></thead><tbody>${r.faults.map((f) => {
    const revert = !f.revert ? '<span class="status error">never reverted</span>'
      : f.revert.error ? `<span class="status error">failed: ${esc(f.revert.error)}</span>`
        : f.revert.alreadyReverted ? 'already reverted' : f.revert.reverted ? 'reverted' : '<span class="status error">not reverted</span>';
    const evidence = f.evidence.map((e) => `<div class="${e.ok ? '' : 'bad-text'}">${esc(e.description)}</div>`).join('');
    return `<tr><td>${esc(f.handle.type)}</td><td>${esc(f.handle.target)}</td><td>${esc(f.handle.backend)}</td><td class="n">${num(f.injectedAtS, 1)} s</td>`
      + `<td class="n">${f.revertedAtS === null ? '—' : `${num(f.revertedAtS, 1)} s`}</td><td>${revert}</td><td>${evidence}</td></tr>`;
  }).join('\n')}</tbody></table>`;

  const thresholds = (load?.thresholds ?? []).length === 0 ? '<p class="muted">No thresholds were set.</p>'
    : `<table><thead><tr><th>threshold</th><th class="n">limit</th><th class="n">actual</th><th>result</th></tr></thead><tbody>${load!.thresholds.map((t) =>
      `<tr class="${t.ok ? '' : 'bad'}"><td>${esc(t.name)}</td><td class="n">${num(t.limit, 3)}</td><td class="n">${num(t.actual, 3)}</td>`
      + `<td class="status ${t.ok ? 'passed' : 'failed'}">${t.ok ? 'held' : 'broken'}${t.reason ? ` <span class="muted">${esc(t.reason)}</span>` : ''}</td></tr>`).join('\n')}</tbody></table>`;

  const w = load?.windows;
  const windowStats = (x: NonNullable<typeof w>['judged']) =>
    `${num(x.seconds)} s, ${num(x.requests)} requests, p50 ${lat(x.latency_ms.p50)} / p95 ${lat(x.latency_ms.p95)} / p99 ${lat(x.latency_ms.p99)} ms, `
    + `error rate ${num(x.error_rate * 100, 2)} %${x.exact ? '' : ' (percentiles: worst second, some seconds had no histogram)'}`;
  const judging = !load || (load.thresholds ?? []).length === 0 ? ''
    : !w ? '<p class="muted">Judged on every second of the load phase.</p>'
      : `<p>Judged on ${w.scope === 'steady' ? 'steady-state seconds' : 'every second'}: ${windowStats(w.judged)}.`
        + `${w.excluded.length ? ` Left out (grey bands on the charts; harness gaps purple): ${w.excluded.map((e) => `${num(e.from_s)}–${num(e.to_s)} s ${esc(e.why)}`).join('; ')}.` : ''}</p>`
        + (w.disturbed ? `<p>While disturbed (the left-out seconds): ${windowStats(w.disturbed)}.</p>` : '')
        + (w.note ? `<p class="muted">${esc(w.note)}</p>` : '');

  const mismatches = (load?.mismatches ?? []).length === 0 ? '' : `<h2>Idempotency mismatches</h2>
<p>One idempotency key, answered with different payments (first ${Math.min(50, load!.mismatches.length)} of ${num(load!.mismatches.length)}).</p>
<table><thead><tr><th>message</th><th>idempotency key</th><th>pattern</th><th>payment ids answered</th></tr></thead><tbody>${load!.mismatches.slice(0, 50).map((m) =>
    `<tr class="bad"><td><code>${esc(m.message_id)}</code></td><td><code>${esc(m.idempotency_key)}</code></td><td>${esc(m.pattern)}</td>`
    + `<td>${m.payment_ids.map((p) => `<code>${esc(p ?? 'null')}</code>`).join(' ')}</td></tr>`).join('\n')}</tbody></table>`;

  const stress = (load?.stress ?? []).length === 0 ? '' : `<h2>Stress stages</h2>
<table><thead><tr><th class="n">target rate</th><th class="n">achieved</th><th class="n">p95</th><th class="n">p99</th><th class="n">errors</th><th>SLO</th></tr></thead><tbody>${load!.stress!.map((st) =>
    `<tr class="${st.ok ? '' : 'bad'}"><td class="n">${num(st.rate)} /s</td><td class="n">${num(st.achieved_rate, 1)} /s</td><td class="n">${num(st.p95_ms, 1)} ms</td>`
    + `<td class="n">${num(st.p99_ms, 1)} ms</td><td class="n">${num(st.error_rate * 100, 2)} %</td><td>${st.ok ? 'held' : esc(st.reasons.join('; '))}</td></tr>`).join('\n')}</tbody></table>`;

  const phases = r.phases.length === 0 ? '' : `<table><thead><tr><th>phase</th><th>started</th><th>ended</th><th class="n">took</th></tr></thead><tbody>${r.phases.map((p) =>
    `<tr><td>${esc(p.phase)}</td><td>${esc(p.started_at)}</td><td>${esc(p.ended_at ?? '—')}</td>`
    + `<td class="n">${p.ended_at ? ms(Date.parse(p.ended_at) - Date.parse(p.started_at)) : '—'}</td></tr>`).join('\n')}</tbody></table>`;

  const rec = r.reconcile;
  const failing = new Set<string>(failingClassesOf(rec?.scope));
  const proofLabel = { full: 'Full proof', partial: 'Partial proof', none: 'No proof' } as const;
  const proof = r.proof ? `<p class="proof" data-proof="${r.proof.kind}"><strong>${proofLabel[r.proof.kind]}</strong>: ${esc(r.proof.detail)}</p>\n` : '';
  const reconcile = proof + (!rec ? '<p class="muted">Reconciliation did not run.</p>'
    : `<p>${num(rec.ledgerCount)} ledger messages; outcome log: ${num(rec.outcomes.acknowledged)} acknowledged, ${num(rec.outcomes.failed)} failed, `
      + `${num(rec.outcomes.unknown)} unknown, ${num(rec.outcomes.none)} never answered. Exactly once: `
      + `<strong class="${rec.exactlyOnce ? 'good-text' : 'bad-text'}">${rec.exactlyOnce ? 'yes' : 'no'}</strong>.</p>\n${rec.sources.map((s) => sourceTable(s, failing)).join('\n')}`);

  const proj = moneyProjection(r);
  const projection = !proj ? '' : `<h3>Business impact (projection)</h3>
<p class="muted" id="projection-label">${esc(proj.label)}</p>
<table class="projection"><thead><tr><th>source</th><th>class</th><th class="n">messages</th><th class="n">this run</th>`
    + `<th class="n">projected per day</th><th class="n">projected per year</th></tr></thead><tbody>${proj.classes.map((p) =>
    `<tr class="bad"><td>${esc(p.source)}</td><td>${esc(p.class)}</td><td class="n">${num(p.count)}</td><td class="n">${esc(formatMoney(p.money))}</td>`
    + `<td class="n">${esc(formatMoney(p.per_day))}</td><td class="n">${esc(formatMoney(p.per_year))}</td></tr>`).join('\n')}</tbody></table>`;

  const notified = (r.notifications ?? []).length === 0 ? '' : `<h2>Notifications</h2>
<table><thead><tr><th>name</th><th>format</th><th>destination</th><th class="n">attempts</th><th>result</th></tr></thead><tbody>${r.notifications!.map((n) =>
    `<tr class="${n.sent ? '' : 'bad'}"><td>${esc(n.name)}</td><td>${esc(n.format)}</td><td><code>${esc(n.destination)}</code></td><td class="n">${num(n.attempts)}</td>`
    + `<td class="status ${n.sent ? 'passed' : 'failed'}">${n.sent ? 'sent' : `not sent <span class="muted">${esc(n.error ?? '')} (the verdict stands)</span>`}</td></tr>`).join('\n')}</tbody></table>`;

  const links = runLinks(r);
  const linkLine = `<div class="meta links"><a href="${esc(links.temporal_ui)}">Temporal UI</a> · dashboards for this run: `
    + `${Object.entries(links.dashboards).map(([k, u]) => `<a class="dashboard" data-dashboard="${esc(k)}" href="${esc(u)}">${esc(dashboards[k as keyof typeof dashboards].title)}</a>`).join(' · ')}</div>`;

  const reasons = r.reasons.length > 0 ? `<ul class="reasons">${r.reasons.map((x) => `<li>${esc(x)}</li>`).join('')}</ul>` : '';
  // Per-second histograms are for merging shards, not for drawing: they would only bloat the page.
  const lean = r.load ? { ...r, load: { ...r.load, timeline: r.load.timeline.map(({ hist: _hist, ...p }) => p) } } : r;
  const data = jsonForScript(lean);

  return `${htmlHead(`${r.verdict} · ${r.scenario} · ${r.run_id} — Ordeal`)}
<style>
  :root { --fg: #1f2328; --muted: #57606a; --line: #d0d7de; --bad: #cf222e; --good: #1a7f37; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--fg); background: #f6f8fa; }
  main { max-width: 1240px; margin: 0 auto; padding: 20px 24px 48px; }
  header.verdict { display: flex; gap: 24px; align-items: center; background: #fff; border: 1px solid var(--line); border-left: 12px solid ${color}; border-radius: 8px; padding: 16px 20px; }
  .badge { font-size: 40px; font-weight: 800; letter-spacing: 1px; color: #fff; background: ${color}; border-radius: 8px; padding: 6px 18px; }
  header h1 { margin: 0 0 4px; font-size: 22px; }
  .reasons { margin: 6px 0 0; padding-left: 18px; font-weight: 600; color: ${color}; }
  .meta { color: var(--muted); font-size: 12px; }
  h2 { font-size: 17px; margin: 28px 0 10px; }
  h3 { font-size: 15px; margin: 18px 0 8px; }
  .cards { display: grid; grid-template-columns: repeat(4, 1fr); gap: 10px; }
  .card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
  .card .label { color: var(--muted); font-size: 12px; }
  .card .value { font-size: 18px; font-weight: 700; }
  .card .hint { color: var(--muted); font-size: 11px; }
  .chart { background: #fff; border: 1px solid var(--line); border-radius: 8px; height: 320px; margin-bottom: 12px; }
  .chart .empty { padding: 130px 0; text-align: center; color: var(--muted); }
  table { width: 100%; border-collapse: collapse; background: #fff; border: 1px solid var(--line); }
  th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
  th { background: #f6f8fa; font-weight: 600; }
  td.n, th.n { text-align: right; white-space: nowrap; }
  td.ids code { font-size: 11px; background: #f6f8fa; padding: 0 3px; border-radius: 3px; margin-right: 2px; }
  tr.bad td { background: #ffebe9; }
  tr.bad td:first-child { font-weight: 700; color: var(--bad); }
  tr.skip td { color: var(--muted); }
  .status.passed, .good-text { color: var(--good); font-weight: 600; }
  .status.failed, .status.error, .bad-text { color: var(--bad); font-weight: 600; }
  .status.skipped { color: var(--muted); }
  .kind { font-size: 11px; font-weight: 600; color: #fff; background: var(--muted); border-radius: 10px; padding: 1px 8px; vertical-align: middle; }
  .muted { color: var(--muted); font-weight: 400; font-size: 12px; }
  .warnings { color: #9a6700; font-size: 12px; }
  .pre { white-space: pre-wrap; }
  table.classes td:first-child { width: 270px; }
  footer { margin-top: 32px; color: var(--muted); font-size: 12px; }
</style>
</head>
<body data-verdict="${esc(r.verdict)}" data-charts-expected="${chartsExpected}" data-charts-rendered="0">
<main>
<header class="verdict">
  <div class="badge" id="verdict">${esc(r.verdict)}</div>
  <div>
    <h1>${esc(r.scenario)}</h1>
    <div class="meta">run <code>${esc(r.run_id)}</code> · workflow <code>${esc(r.workflow_id)}</code> · ${esc(r.started_at)} → ${esc(r.ended_at)} (${ms(durationS * 1000)})</div>
    ${linkLine}
    ${reasons}
  </div>
</header>

<h2>Key numbers</h2>
<div class="cards">${cards}</div>

<h2>Latency over time</h2>
<div class="chart" id="chart-latency">${timeline.length === 0 ? '<div class="empty">no load timeline</div>' : ''}</div>
<h2>Throughput and errors over time</h2>
<div class="chart" id="chart-throughput">${timeline.length === 0 ? '<div class="empty">no load timeline</div>' : ''}</div>

<h2>Reconciliation</h2>
${reconcile}
${projection}

<h2>Checks</h2>
${checksTable(checks)}

<h2>Faults</h2>
${faults}

<h2>Thresholds</h2>
${thresholds}
${judging}

${mismatches}
${stress}
${notified}
${phases ? `<h2>Phases</h2>\n${phases}` : ''}

<footer>Generated by Ordeal at ${esc(new Date().toISOString())}. Latency is measured from the intended send time (coordinated omission corrected). Red bands are fault windows; grey bands are seconds left out of the steady-state thresholds (warm-up, fault, recovery, settling); purple bands are harness gaps (no load worker was sending for a shard: the harness's outage, left out too).</footer>
</main>
<script type="application/json" id="ordeal-report">${data}</script>
<script>${echartsLibrary()}</script>
<script>${inlineScript(CHART_SCRIPT)}</script>
</body>
</html>
`;
}

/**
 * Runs in the browser: draws the two timeline charts with the fault windows shaded.
 * `window.ordealCharts(report)` redraws them from a report-shaped object, so the live
 * view (scripts/live) feeds the same code as it polls.
 */
export const CHART_SCRIPT = String.raw`
(function () {
  var body = document.body;
  var charts = {};
  function fail(err) {
    body.setAttribute('data-charts-error', String(err && err.message || err));
    var box = document.createElement('pre');
    box.textContent = 'charts failed: ' + (err && err.stack || err);
    box.style.color = '#cf222e';
    document.querySelector('main').prepend(box);
  }
  function render(report) {
    var timeline = (report.load && report.load.timeline) || [];
    if (!timeline.length || typeof echarts === 'undefined') {
      if (typeof echarts === 'undefined') fail('echarts did not load');
      return;
    }
    var lastT = timeline[timeline.length - 1].t;
    var windows = (report.faults || []).map(function (f) {
      var end = f.revertedAtS == null ? lastT : f.revertedAtS;
      return [{ name: f.handle.type + ' · ' + f.handle.target, xAxis: f.injectedAtS }, { xAxis: end }];
    });
    var lastRevert = (report.faults || []).reduce(function (m, f) { return f.revertedAtS != null && f.revertedAtS > m ? f.revertedAtS : m; }, -1);
    var marks = [];
    if (report.recovery && lastRevert >= 0) {
      // Labels on opposite ends, since the two instants are often a second apart.
      if (report.recovery.time_to_healthy_ms != null) {
        marks.push({ name: 'healthy', xAxis: lastRevert + report.recovery.time_to_healthy_ms / 1000, label: { position: 'insideEndTop' } });
      }
      if (report.recovery.time_to_first_success_ms != null) {
        marks.push({ name: 'first success', xAxis: lastRevert + report.recovery.time_to_first_success_ms / 1000, label: { position: 'insideStartTop' } });
      }
    }
    var allExcluded = (report.load && report.load.windows && report.load.windows.excluded) || [];
    var band = function (e) { return [{ name: '', xAxis: e.from_s }, { xAxis: Math.min(e.to_s, lastT + 1) }]; };
    var excluded = allExcluded.filter(function (e) { return e.kind !== 'harness_gap'; }).map(band);
    var grey = { silent: true, itemStyle: { color: 'rgba(87, 96, 106, 0.10)' }, data: excluded };
    // Harness gaps (no load worker sending for a shard): the harness's outage, in its own colour.
    // The live view passes its clock (live_until_s): a gap open now reaches past the last point.
    var gapList = (report.load && report.load.harness_gaps) || [];
    var liveUntil = report.load && report.load.live_until_s != null ? report.load.live_until_s : null;
    var gaps = gapList.map(function (g) {
      return [{ name: 'harness gap', xAxis: g.from_s }, { xAxis: Math.min(g.to_s, liveUntil != null ? liveUntil : lastT + 1) }];
    });
    var openGapEnd = gapList.reduce(function (m, g, i) { return g.open ? Math.max(m, gaps[i][1].xAxis) : m; }, 0);
    var purple = { silent: true, itemStyle: { color: 'rgba(130, 80, 223, 0.18)' }, label: { color: '#8250df', position: 'insideBottom', fontSize: 11 }, data: gaps };
    var shade = { silent: true, itemStyle: { color: 'rgba(207, 34, 46, 0.14)' }, label: { color: '#cf222e', position: 'insideTop', fontSize: 11 }, data: windows };
    var recoveryLines = { silent: true, symbol: 'none', lineStyle: { color: '#1a7f37', type: 'dashed' }, label: { formatter: '{b}', color: '#1a7f37', fontSize: 10 }, data: marks };
    function series(name, key, color, extra) {
      var s = { name: name, type: 'line', showSymbol: false, sampling: 'lttb', lineStyle: { width: 2 }, color: color,
        data: timeline.map(function (p) { return [p.t, p[key]]; }) };
      for (var k in extra || {}) s[k] = extra[k];
      return s;
    }
    var base = {
      animation: false,
      tooltip: { trigger: 'axis' },
      legend: { top: 6 },
      grid: { left: 64, right: 64, top: 40, bottom: 40 },
      // Recovery can come after the load ended: keep its markers on the chart.
      xAxis: { type: 'value', name: 's', nameLocation: 'end', min: 0,
        max: Math.ceil(Math.max(lastT, 1, openGapEnd, ...marks.map(function (m) { return m.xAxis; }), ...windows.map(function (w) { return w[1].xAxis; }))) },
    };
    var drawn = 0;
    function draw(id, option) {
      var chart = charts[id];
      if (!chart) {
        chart = charts[id] = echarts.init(document.getElementById(id), null, { renderer: 'svg' });
        window.addEventListener('resize', function () { chart.resize(); });
      }
      chart.setOption(Object.assign({}, base, option), true);
      drawn++;
    }
    draw('chart-latency', {
      yAxis: { type: 'value', name: 'ms' },
      series: [
        series('p50', 'p50_ms', '#0969da', { markArea: shade, markLine: recoveryLines }),
        series('p95', 'p95_ms', '#bf8700', { markArea: grey }),
        series('p99', 'p99_ms', '#cf222e', { markArea: purple }),
      ],
    });
    draw('chart-throughput', {
      yAxis: [{ type: 'value', name: 'per second' }, { type: 'value', name: 'errors', position: 'right', splitLine: { show: false } }],
      series: [
        series('sent', 'sent', '#57606a', { markArea: shade, markLine: recoveryLines }),
        series('ok', 'ok', '#1a7f37', { markArea: grey }),
        { name: 'harness gaps', type: 'line', data: [], markArea: purple, color: '#8250df' },
        { name: 'errors', type: 'bar', yAxisIndex: 1, color: '#cf222e', barMaxWidth: 8, data: timeline.map(function (p) { return [p.t, p.errors]; }) },
      ],
    });
    body.setAttribute('data-charts-rendered', String(drawn));
    // What is on the charts, for tests and for people reading the DOM.
    body.setAttribute('data-timeline-points', String(timeline.length));
    body.setAttribute('data-fault-bands', String(windows.length));
    body.setAttribute('data-excluded-bands', String(excluded.length));
    body.setAttribute('data-gap-bands', String(gaps.length));
  }
  window.ordealCharts = function (report) {
    try { render(report); } catch (err) { fail(err); }
  };
  var embedded = document.getElementById('ordeal-report');
  if (embedded) window.ordealCharts(JSON.parse(embedded.textContent));
})();
`;
