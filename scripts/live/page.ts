// The live view's page: the run's phase, counts, faults, harness gaps and outcome
// classes as they change, and the report's two charts drawn by the report's own script
// (activities/report/html.ts CHART_SCRIPT + echarts), redrawn from /state every second.
import { CHART_SCRIPT, echartsLibrary, esc, htmlHead, inlineScript, jsonForScript } from '../../activities/report/html.ts';
import type { LiveSnapshot } from './state.ts';

const LIVE_SCRIPT = String.raw`
(function () {
  var body = document.body;
  var updates = 0;
  var colors = { PASS: '#1a7f37', FAIL: '#cf222e', ABORTED: '#9a6700', ERROR: '#8250df' };
  function text(id, v) { var el = document.getElementById(id); if (el) el.textContent = v; }
  function esc(s) { return String(s).replace(/[&<>"']/g, function (c) { return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]; }); }
  function show(s) {
    // Once the run closed, the cards show the report's figures, not the last status answer.
    var lc = s.done && s.report.load ? s.report.load : null;
    var st = s.status || (lc ? { sent: lc.counts.sent, acked: lc.counts.acked, failed: lc.counts.failed, unacknowledged: lc.counts.unknown,
      rate: Math.round(lc.achieved_rate), p99_ms: lc.latency_ms.p99, active_faults: [] } : {});
    body.setAttribute('data-phase', s.phase);
    body.setAttribute('data-done', String(s.done));
    body.setAttribute('data-verdict', s.verdict || '');
    var badge = document.getElementById('verdict');
    badge.textContent = s.verdict || s.phase;
    badge.style.background = colors[s.verdict] || '#0969da';
    text('scenario', (s.scenario || '…') + (s.run_id ? ' · run ' + s.run_id : ''));
    text('phase', s.phase);
    text('sent', st.sent != null ? st.sent + ' / ' + st.acked : '—');
    text('failed', st.failed != null ? st.failed + ' failed, ' + st.unacknowledged + ' unacknowledged' : '');
    text('rate', st.rate != null ? st.rate + ' /s' : '—');
    text('p99', st.p99_ms != null ? Math.round(st.p99_ms) + ' ms' : '—');
    var active = (st.active_faults || []);
    body.setAttribute('data-active-faults', String(active.length));
    document.getElementById('faults').innerHTML = (s.report.faults || []).length === 0 ? '<span class="muted">no fault yet</span>'
      : s.report.faults.map(function (f) {
        return '<div class="fault ' + (f.revertedAtS == null ? 'open' : 'closed') + '">' + esc(f.handle.type + ' on ' + f.handle.target)
          + ' · +' + Number(f.injectedAtS).toFixed(1) + ' s' + (f.revertedAtS == null ? ' · <b>active</b>' : ' → +' + Number(f.revertedAtS).toFixed(1) + ' s') + '</div>';
      }).join('');
    // Harness gaps have their own list and colour (the report's purple); the other left-out seconds are grey.
    var ex = ((s.report.load && s.report.load.windows && s.report.load.windows.excluded) || []).filter(function (e) { return e.kind !== 'harness_gap'; });
    document.getElementById('excluded').innerHTML = ex.map(function (e) {
      return '<div class="excluded">' + Number(e.from_s).toFixed(0) + '–' + Number(e.to_s).toFixed(0) + ' s ' + esc(e.why) + '</div>'; }).join('');
    var gaps = (s.report.load && s.report.load.harness_gaps) || [];
    body.setAttribute('data-harness-gaps', String(gaps.length));
    body.setAttribute('data-open-gaps', String(gaps.filter(function (g) { return g.open; }).length));
    document.getElementById('gaps').innerHTML = gaps.map(function (g) {
      return '<div class="gap ' + (g.open ? 'open' : 'closed') + '">harness gap · shard ' + (g.shard + 1) + ' · +' + Number(g.from_s).toFixed(1) + ' s'
        + (g.open ? ' · <b>open</b>' : ' → +' + Number(g.to_s).toFixed(1) + ' s') + ' <span class="muted">' + esc(g.why) + '</span></div>'; }).join('');
    var counts = s.counts;
    body.setAttribute('data-counts', counts ? 'yes' : 'no');
    document.getElementById('counts').innerHTML = !counts ? '<span class="muted">after reconciliation</span>'
      : '<table><thead><tr><th>source</th>' + Object.keys(counts[Object.keys(counts)[0]] || {}).map(function (c) { return '<th class="n">' + esc(c) + '</th>'; }).join('')
        + '</tr></thead><tbody>' + Object.keys(counts).map(function (src) {
          return '<tr><td>' + esc(src) + '</td>' + Object.keys(counts[src]).map(function (c) {
            var n = counts[src][c]; return '<td class="n' + (n > 0 && c !== 'ok' && c !== 'unacknowledged' ? ' bad-text' : '') + '">' + n + '</td>'; }).join('') + '</tr>';
        }).join('') + '</tbody></table>';
    document.getElementById('reasons').innerHTML = (s.done ? s.reasons : []).map(function (r) { return '<li>' + esc(r) + '</li>'; }).join('');
    text('note', s.timeline_note || '');
    text('report', s.report_path ? 'report: ' + s.report_path : '');
    text('updated', 'updated ' + s.updated_at);
    if (window.ordealCharts) window.ordealCharts(s.report);
  }
  show(JSON.parse(document.getElementById('ordeal-live').textContent));
  function poll() {
    fetch('state', { cache: 'no-store' }).then(function (r) { return r.json(); }).then(function (s) {
      updates++;
      body.setAttribute('data-updates', String(updates));
      show(s);
      if (!s.done) setTimeout(poll, 1000);
    }, function () { setTimeout(poll, 2000); });
  }
  if (!JSON.parse(document.getElementById('ordeal-live').textContent).done) setTimeout(poll, 1000);
})();
`;

export function livePage(s: LiveSnapshot): string {
  return `${htmlHead(`live · ${s.workflow_id} — Ordeal`)}
<style>
  :root { --fg: #1f2328; --muted: #57606a; --line: #d0d7de; --bad: #cf222e; --good: #1a7f37; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--fg); background: #f6f8fa; }
  main { max-width: 1240px; margin: 0 auto; padding: 20px 24px 48px; }
  header { display: flex; gap: 24px; align-items: center; background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 16px 20px; }
  .badge { font-size: 32px; font-weight: 800; color: #fff; background: #0969da; border-radius: 8px; padding: 6px 18px; min-width: 140px; text-align: center; }
  h1 { margin: 0 0 4px; font-size: 20px; } h2 { font-size: 16px; margin: 22px 0 8px; }
  .cards { display: grid; grid-template-columns: repeat(4, 1fr); gap: 10px; margin-top: 14px; }
  .card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
  .card .label, .muted, .meta { color: var(--muted); font-size: 12px; } .card .value { font-size: 18px; font-weight: 700; }
  .chart { background: #fff; border: 1px solid var(--line); border-radius: 8px; height: 300px; margin-bottom: 12px; }
  .row { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
  .box { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; min-height: 48px; }
  .fault.open { color: var(--bad); font-weight: 600; } .excluded { color: var(--muted); }
  .gap { color: #8250df; } .gap.open { font-weight: 600; }
  table { width: 100%; border-collapse: collapse; } th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); }
  td.n, th.n { text-align: right; } .bad-text { color: var(--bad); font-weight: 700; }
  ul#reasons { margin: 6px 0 0; padding-left: 18px; font-weight: 600; }
</style>
</head>
<body data-phase="${esc(s.phase)}" data-verdict="" data-charts-rendered="0" data-updates="0">
<main>
<header>
  <div class="badge" id="verdict">${esc(s.verdict ?? s.phase)}</div>
  <div>
    <h1 id="scenario">${esc(s.scenario ?? '…')}</h1>
    <div class="meta">live view of <code>${esc(s.workflow_id)}</code> · phase <b id="phase">${esc(s.phase)}</b> · <span id="updated"></span></div>
    <ul id="reasons"></ul>
    <div class="meta" id="report"></div>
  </div>
</header>
<div class="cards">
  <div class="card"><div class="label">sent / acknowledged</div><div class="value" id="sent">—</div><div class="meta" id="failed"></div></div>
  <div class="card"><div class="label">rate (current; achieved when done)</div><div class="value" id="rate">—</div></div>
  <div class="card"><div class="label">p99 (worst shard so far; the run's when done)</div><div class="value" id="p99">—</div></div>
  <div class="card"><div class="label">faults</div><div id="faults"></div><div id="gaps"></div><div id="excluded"></div></div>
</div>
<h2>Latency over time</h2>
<div class="chart" id="chart-latency"></div>
<h2>Throughput and errors over time</h2>
<div class="chart" id="chart-throughput"></div>
<p class="muted" id="note"></p>
<h2>Outcome classes</h2>
<div class="box" id="counts"></div>
<p class="muted">While the run goes on: requests per second and latency from the intended send time over 10 s windows (the load
worker's series in Prometheus), seconds since the experiment started; fault windows (red) and harness gaps (purple: no load worker
was sending for a shard) as they open and close. When it ends: the report's own per-second timeline (seconds since the load
started), fault windows (red), other left-out seconds such as warm-up (grey), harness gaps (purple), outcome counts and the verdict.</p>
</main>
<script type="application/json" id="ordeal-live">${jsonForScript(s)}</script>
<script>${echartsLibrary()}</script>
<script>${inlineScript(CHART_SCRIPT)}</script>
<script>${inlineScript(LIVE_SCRIPT)}</script>
</body>
</html>
`;
}
