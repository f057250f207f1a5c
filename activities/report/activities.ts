// Writing a run's reports: report.json (the ExperimentReport itself, what
// `ordeal run --json` prints), a JUnit file for CI systems, and a small HTML page.
// A first version so every run leaves its reports, partial ones included; the
// report owner deepens the HTML behind the same activity.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runArtifactsDir } from '../ledger/persist.ts';
import type { ExperimentReport, ReportPaths } from './types.ts';

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function junitOf(r: ExperimentReport): string {
  const cases: string[] = [];
  const tc = (name: string, failure: string | null, skipped = false) => cases.push(
    `    <testcase classname="ordeal.${esc(r.scenario)}" name="${esc(name)}">`
    + (skipped ? '<skipped/>' : failure ? `<failure message="${esc(failure.slice(0, 500))}">${esc(failure)}</failure>` : '')
    + '</testcase>');
  tc('verdict', r.verdict === 'PASS' ? null : `${r.verdict}: ${r.reasons.join('; ')}`);
  for (const src of r.reconcile?.sources ?? []) {
    const bad = (['lost', 'duplicated', 'ghost', 'mismatched', 'missing'] as const).filter((c) => (src.classes[c]?.count ?? 0) > 0);
    tc(`exactly-once in ${src.source}`, bad.length ? bad.map((c) => `${src.classes[c].count} ${c}`).join(', ') : null);
  }
  for (const t of r.load?.thresholds ?? []) tc(`threshold ${t.name}`, t.ok ? null : `${t.actual} > ${t.limit}`);
  for (const f of r.faults) {
    tc(`revert ${f.handle.type} on ${f.handle.target}`, f.revert && (f.revert.reverted || f.revert.alreadyReverted) ? null
      : `fault ${f.handle.faultId} not reverted: ${f.revert?.error ?? 'no revert recorded'}`);
  }
  if (r.recovery) tc('recovery', r.recovery.recovered ? null : 'system did not recover within the timeout');
  const failures = cases.filter((c) => c.includes('<failure')).length;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n  <testsuite name="ordeal.${esc(r.scenario)}" tests="${cases.length}" failures="${failures}" timestamp="${r.started_at}">\n${cases.join('\n')}\n  </testsuite>\n</testsuites>\n`;
}

export function htmlOf(r: ExperimentReport): string {
  const rows = (r.reconcile?.sources ?? []).map((s) => `<tr><td>${esc(s.source)}</td><td>${s.records}</td>${
    (['ok', 'lost', 'duplicated', 'ghost', 'mismatched', 'unacknowledged', 'missing'] as const)
      .map((c) => `<td class="${c !== 'ok' && c !== 'unacknowledged' && (s.classes[c]?.count ?? 0) > 0 ? 'bad' : ''}">${s.classes[c]?.count ?? 0}</td>`).join('')}</tr>`).join('');
  const faults = r.faults.map((f) => `<li>${esc(f.handle.type)} on ${esc(f.handle.target)}: +${f.injectedAtS.toFixed(1)} s → ${
    f.revertedAtS === null ? 'NOT REVERTED' : `+${f.revertedAtS.toFixed(1)} s`}${f.revert?.error ? ` (${esc(f.revert.error)})` : ''}</li>`).join('');
  return `<!doctype html><meta charset="utf-8"><title>Ordeal ${esc(r.scenario)} ${r.verdict}</title>
<style>body{font:14px system-ui;margin:2em}td,th{padding:4px 10px;border-bottom:1px solid #ddd}.bad{color:#b00;font-weight:bold}.v{font-size:2em}</style>
<h1>${esc(r.scenario)} <span class="v">${r.verdict}</span></h1>
<p>run ${esc(r.run_id)} · workflow ${esc(r.workflow_id)} · ${r.started_at} → ${r.ended_at}</p>
<ul>${r.reasons.map((x) => `<li>${esc(x)}</li>`).join('')}</ul>
<h2>Load</h2><pre>${esc(JSON.stringify(r.load ? { counts: r.load.counts, latency_ms: r.load.latency_ms, achieved_rate: r.load.achieved_rate } : null, null, 2))}</pre>
<h2>Faults</h2><ul>${faults}</ul>
<h2>Recovery</h2><pre>${esc(JSON.stringify(r.recovery, null, 2))}</pre>
<h2>Reconciliation</h2><table><tr><th>source</th><th>records</th><th>ok</th><th>lost</th><th>duplicated</th><th>ghost</th><th>mismatched</th><th>unacknowledged</th><th>missing</th></tr>${rows}</table>
`;
}

export async function writeReports(report: ExperimentReport): Promise<ReportPaths> {
  const dir = runArtifactsDir(report.run_id);
  mkdirSync(dir, { recursive: true });
  const paths: ReportPaths = { dir, json: join(dir, 'report.json'), html: join(dir, 'report.html'), junit: join(dir, 'junit.xml') };
  writeFileSync(paths.json, JSON.stringify(report, null, 2) + '\n');
  writeFileSync(paths.junit, junitOf(report));
  writeFileSync(paths.html, htmlOf(report));
  return paths;
}
