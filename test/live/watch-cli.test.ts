// `ordeal run` and `ordeal watch <id> --web` as a person runs them: real CLI processes
// against the test stack. `run` prints the live view's command; `watch --web` prints
// the page's URL, serves the page and its live data while the run goes on, shows the
// verdict at the end, and exits with the verdict's exit code when stopped (SIGINT, by
// its pid: the CLI's wrappers exec node, so the child's pid is the CLI's own).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LiveSnapshot } from '../../scripts/live/state.ts';
import { repoRoot } from '../../scripts/stack/config.ts';
import { until } from '../experiment/harness.ts';

const cli = join(repoRoot, 'scripts', 'ordeal');
const reEsc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
let watch: ChildProcess | undefined;
after(() => { if (watch && watch.exitCode === null && watch.signalCode === null) watch.kill('SIGKILL'); });

void test('ordeal run prints the live view command; ordeal watch --web serves the run live, then its verdict, and exits on Ctrl-C', async () => {
  const overrides = ['faults=[]', 'ledger.messages=800', 'load.rate=80', 'load.duration=10s', 'load.warmup=0', 'load.thresholds={}', 'drain.timeout=45s'];
  const run = spawnSync('bash', [cli, 'run', 'db_failure_peak_load', ...overrides.flatMap((o) => ['--set', o])],
    { encoding: 'utf8', env: process.env, timeout: 120_000 });
  assert.equal(run.status, 0, run.stdout + run.stderr);
  const id = run.stdout.trim();
  assert.match(id, /^ordeal-db_failure_peak_load-\d{8}T\d{6}Z-[0-9a-f]{4}$/);
  assert.match(run.stderr, new RegExp(`^started ${reEsc(id)}$`, 'm'));
  assert.match(run.stderr, new RegExp(`^Temporal UI: http://127\\.0\\.0\\.1:\\d+/namespaces/default/workflows/${reEsc(id)}`, 'm'));
  assert.match(run.stderr, new RegExp(`^live view: npx ordeal watch ${reEsc(id)} --web$`, 'm'));

  const child = spawn('bash', [cli, 'watch', id, '--web'], { env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  watch = child;
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));

  const url = await until('watch --web to print its URL', async () => /^live view: (http:\/\/127\.0\.0\.1:\d+\/)$/m.exec(err)?.[1], 60_000, 200);
  const page = await (await fetch(url)).text();
  assert.match(page, new RegExp(`live view of <code>${reEsc(id)}</code>`));
  assert.match(page, /<div class="chart" id="chart-latency"><\/div>/);

  // While the run goes on: the page's data is the run's, live (the status query's counts grow).
  const state = async () => (await (await fetch(`${url}state`)).json()) as LiveSnapshot;
  const first = await until('live load data', async () => { const s = await state(); return !s.done && s.status && s.status.sent > 0 ? s : null; }, 90_000, 500);
  assert.equal(first.scenario, 'db_failure_peak_load');
  assert.match(first.run_id ?? '', /^r[0-9a-f]{11}$/);
  const grown = await until('the live counts to grow', async () => {
    const s = await state();
    return s.done || (s.status && s.status.sent > first.status!.sent) ? s : null;
  }, 60_000, 500);
  assert.ok(grown.done || grown.status!.sent > first.status!.sent);

  // The end: the page shows the verdict and the report, the terminal the summary; the page stays up.
  const end = await until('the verdict on the page', async () => { const s = await state(); return s.done ? s : null; }, 240_000, 1000);
  assert.equal(end.verdict, 'PASS', end.reasons.join('\n'));
  assert.equal(end.run_id, first.run_id);
  assert.match(end.report_path ?? '', /report\.html$/);
  assert.equal(end.counts?.postgres?.ok, 800);
  await until('watch to say the run closed', async () => err.includes(`run closed; the live view stays at ${url} until Ctrl-C`), 60_000, 200);
  assert.match(out, /^\[ *\d+s\] load +sent \d+ acked \d+/m, 'status lines while the load ran');
  assert.match(out, new RegExp(`^verdict: PASS {3}scenario db_failure_peak_load {3}run ${first.run_id}$`, 'm'));
  const endPage = await (await fetch(url)).text();
  assert.match(endPage, /"verdict":"PASS"/);
  assert.equal(child.exitCode, null, 'still serving the page');

  // Ctrl-C: the CLI closes the page and exits with the verdict's code (0 for PASS).
  const t0 = Date.now();
  child.kill('SIGINT');
  const ended = await Promise.race([exited, new Promise<null>((r) => setTimeout(() => r(null), 15_000))]);
  assert.ok(ended, `watch did not exit within 15 s of SIGINT:\n${err}`);
  assert.deepEqual(ended, { code: 0, signal: null }, err);
  await assert.rejects(fetch(url), 'the page is closed');
  console.log(`watch --web: ${url} served run ${first.run_id} (${first.status!.sent} → ${grown.status?.sent ?? 'done'} sent live), `
    + `verdict ${end.verdict}; exited ${Date.now() - t0} ms after SIGINT`);
});
