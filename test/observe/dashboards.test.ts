// Experiment metrics and the Grafana dashboards, proven on the running stack: an
// experiment runs on the stack's own workers (the processes Prometheus scrapes); while
// it runs, the orchestrator exports its phase and active fault and the load worker
// labels its series with the run; afterwards every panel query of the three dashboards
// (docker/grafana/dashboards) returns series for that run from the real Prometheus.
// Grafana itself cannot be installed here, so its JSON is checked for what it requires.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { dashboards } from '../../activities/report/links.ts';
import { OrdealClient } from '../../scripts/client/index.ts';
import { repoRoot } from '../../scripts/stack/config.ts';
import { config, shortDbKill, until } from '../experiment/harness.ts';

const prom = `http://127.0.0.1:${config.ports.prometheus}`;
const dashDir = join(repoRoot, 'docker', 'grafana', 'dashboards');

interface Target { refId: string; expr: string; datasource?: { type: string; uid: string } }
interface Panel { id: number; title: string; type: string; datasource?: { type: string; uid: string }; targets?: Target[]; gridPos?: unknown }
interface Dashboard { uid: string; title: string; schemaVersion: number; panels: Panel[]; templating: { list: { name: string; type: string }[] } }

const files = readdirSync(dashDir).filter((f) => f.endsWith('.json')).sort();
const boards = files.map((f) => ({ file: f, d: JSON.parse(readFileSync(join(dashDir, f), 'utf8')) as Dashboard }));

async function promQuery(path: string, params: Record<string, string>): Promise<{ status: string; data: { result: unknown[] }; error?: string }> {
  const res = await fetch(`${prom}${path}?${new URLSearchParams(params)}`, { signal: AbortSignal.timeout(10_000) });
  return res.json() as Promise<{ status: string; data: { result: unknown[] }; error?: string }>;
}

let ordeal: OrdealClient;
before(async () => { ordeal = await OrdealClient.connect({ config }); });
after(async () => { await ordeal?.close(); });

void test('every dashboard has what Grafana requires, and the run_id/scenario variables', () => {
  assert.deepEqual(files, ['business-kpis.json', 'load-test-overview.json', 'system-health.json']);
  assert.deepEqual(boards.map((b) => b.d.uid).sort(), Object.values(dashboards).map((d) => d.uid).sort(), 'the report links to these uids');
  assert.deepEqual(boards.map((b) => b.d.title).sort(), ['Business KPIs', 'Load Test Overview', 'System Health']);
  for (const { file, d } of boards) {
    assert.equal(typeof d.uid, 'string', file);
    assert.ok(d.uid.length > 0 && d.uid.length <= 40, `${file}: Grafana uids are at most 40 characters`);
    assert.ok(Number.isInteger(d.schemaVersion) && d.schemaVersion >= 30, `${file}: schemaVersion`);
    assert.deepEqual(d.templating.list.map((v) => v.name), ['datasource', 'scenario', 'run_id'], file);
    assert.ok(d.panels.length >= 6, `${file}: ${d.panels.length} panels`);
    assert.equal(new Set(d.panels.map((p) => p.id)).size, d.panels.length, `${file}: panel ids are unique`);
    for (const p of d.panels) {
      assert.ok(p.title && p.type && p.gridPos, `${file} panel ${p.id}: title, type, gridPos`);
      assert.deepEqual(p.datasource, { type: 'prometheus', uid: '${datasource}' }, `${file} / ${p.title}: datasource`);
      assert.ok((p.targets ?? []).length > 0, `${file} / ${p.title}: targets`);
      for (const t of p.targets!) assert.ok(t.refId && t.expr && t.datasource, `${file} / ${p.title} ${t.refId}: refId, expr, datasource`);
    }
  }
});

void test('an experiment on the stack: live experiment and load metrics, then every panel query returns series for the run', async () => {
  const startedAt = Date.now();
  const h = await ordeal.start({ scenario: 'db_failure_peak_load', overrides: [...shortDbKill, 'faults.0.duration=8s'] });
  const runId = await until('the run id', async () => (await h.status()).run_id);

  // While it runs: the orchestrator's experiment metrics show the phase and the active fault.
  const expMetrics = `http://127.0.0.1:${config.ports.experiment_metrics}/metrics`;
  const live = await until('the active fault in the experiment metrics', async () => {
    const text = await (await fetch(expMetrics, { signal: AbortSignal.timeout(5000) })).text();
    return text.includes(`ordeal_experiment_active_faults{scenario="db_failure_peak_load",run_id="${runId}",type="database_kill",target="postgres"} 1`) ? text : null;
  }, 90_000, 500);
  assert.match(live, new RegExp(`ordeal_experiment_phase\\{scenario="db_failure_peak_load",run_id="${runId}",workflow_id="${h.workflowId}",phase="load"\\} 1`));
  assert.match(live, /ordeal_experiments_running [1-9]/);
  const loadText = await (await fetch(`http://127.0.0.1:${config.ports.load_worker_metrics}/metrics`)).text();
  assert.match(loadText, new RegExp(`ordeal_load_requests_total\\{scenario="db_failure_peak_load",run_id="${runId}",class="[a-z_0-9]+"\\} \\d+`));

  const r = await h.result();
  assert.ok(['PASS', 'FAIL'].includes(r.verdict), `${r.verdict}: ${r.reasons.join('; ')}`);
  // The finished run: counted by verdict, its last-run series set.
  const after = await (await fetch(expMetrics)).text();
  assert.match(after, new RegExp(`ordeal_experiment_runs_total\\{scenario="db_failure_peak_load",verdict="${r.verdict}"\\} [1-9]`));
  assert.match(after, new RegExp(`ordeal_experiment_last_outcomes\\{scenario="db_failure_peak_load",run_id="${runId}",source="postgres",class="ok"\\} 1500`));
  assert.match(after, new RegExp(`ordeal_experiment_last_time_to_recovery_seconds\\{scenario="db_failure_peak_load",run_id="${runId}",kind="healthy"\\} [0-9.]+`));
  assert.doesNotMatch(after, new RegExp(`ordeal_experiment_phase\\{[^}]*run_id="${runId}"`), 'a finished run has no phase series');

  // Prometheus scrapes both of the orchestrator's endpoints (from the service declarations).
  const up = await promQuery('/api/v1/query', { query: 'up{job="worker"} == 1' });
  assert.equal(up.data.result.length, 2, JSON.stringify(up));
  await until('Prometheus to scrape the finished run', async () =>
    (await promQuery('/api/v1/query', { query: `ordeal_experiment_last_run_info{run_id="${runId}"}` })).data.result.length > 0, 30_000, 1000);

  // A step after the last scrape: range steps run from start, so one must land past it.
  const end = Date.now() + 5000;
  const rangeS = Math.ceil((end - startedAt) / 1000) + 10;
  const empty: string[] = [];
  let queries = 0;
  for (const { d } of boards) {
    for (const p of d.panels) {
      for (const t of p.targets!) {
        const expr = t.expr.replaceAll('$run_id', runId).replaceAll('$scenario', 'db_failure_peak_load')
          .replaceAll('$__rate_interval', '20s').replaceAll('$__range', `${rangeS}s`);
        assert.doesNotMatch(expr, /\$/, `${d.title} / ${p.title}: a variable the test does not know`);
        const res = await promQuery('/api/v1/query_range', { query: expr, start: String((startedAt - 10_000) / 1000), end: String(end / 1000), step: '5' });
        assert.equal(res.status, 'success', `${d.title} / ${p.title}: ${res.error ?? ''} in ${expr}`);
        queries++;
        if (res.data.result.length === 0) empty.push(`${d.title} / ${p.title} (${t.refId}): ${expr}`);
      }
    }
  }
  assert.deepEqual(empty, [], `panel queries without series for run ${runId}`);
  console.log(`${queries} panel queries over ${boards.length} dashboards returned series for run ${runId} (${r.verdict})`);
});
