// `ordeal run --wait --web` and `ordeal watch <id> --web` as a person runs them: real CLI
// processes against the test stack, on one run. `run` prints the run's id and its live
// view's link, and exits with the verdict's code; `watch --web` prints the page's URL,
// serves the page and its live data while the run goes on, shows the verdict at the end,
// and exits with the verdict's code when stopped (SIGINT, by its pid: the CLI's wrappers
// exec node, so the child's pid is the CLI's own).
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LiveSnapshot } from '../../scripts/live/state.ts';
import { repoRoot } from '../../scripts/stack/config.ts';
import { until } from '../experiment/harness.ts';

const cli = join(repoRoot, 'scripts', 'ordeal');
const reEsc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const children: ChildProcess[] = [];
after(() => { for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL'); });

/** A CLI process with its output collected as it comes. */
function ordeal(...args: string[]) {
  const child = spawn('bash', [cli, ...args], { env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const p = { child, out: '', err: '', exited: new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal }))) };
  child.stdout!.on('data', (d: Buffer) => { p.out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { p.err += d.toString(); });
  return p;
}
const within = <T>(p: Promise<T>, ms: number) => Promise.race([p, new Promise<null>((r) => setTimeout(() => r(null), ms))]);
const LIVE_URL = /^live view: (http:\/\/127\.0\.0\.1:\d+\/)$/m;

void test('ordeal run --wait --web prints its link; ordeal watch --web serves the run live, then its verdict, and exits on Ctrl-C', async () => {
  // 20 s of load: watch must start (a node process, its first status sample) and see it run.
  const overrides = ['faults=[]', 'ledger.messages=800', 'load.rate=40', 'load.duration=20s', 'load.warmup=0', 'load.thresholds={}', 'drain.timeout=45s'];
  const run = ordeal('run', 'db_failure_peak_load', '--wait', '--web', ...overrides.flatMap((o) => ['--set', o]));
  const id = await until('run to print the workflow id', async () => /^started (\S+)$/m.exec(run.err)?.[1], 60_000, 200);
  assert.match(id, /^ordeal-db_failure_peak_load-\d{8}T\d{6}Z-[0-9a-f]{4}$/);
  assert.match(run.err, new RegExp(`^Temporal UI: http://127\\.0\\.0\\.1:\\d+/namespaces/default/workflows/${reEsc(id)}`, 'm'));
  const watch = ordeal('watch', id, '--web');
  const runUrl = await until('run to print its live view link', async () => LIVE_URL.exec(run.err)?.[1], 60_000, 200);
  assert.match(await (await fetch(runUrl)).text(), new RegExp(`live view of <code>${reEsc(id)}</code>`));

  const url = await until('watch --web to print its URL', async () => LIVE_URL.exec(watch.err)?.[1], 60_000, 200);
  assert.notEqual(url, runUrl, 'each command serves its own page (any free port)');
  const page = await (await fetch(url)).text();
  assert.match(page, new RegExp(`live view of <code>${reEsc(id)}</code>`));
  assert.match(page, /<div class="chart" id="chart-latency"><\/div>/);

  // While the run goes on: the page's data is the run's, live (the status query's counts grow).
  const state = async () => (await (await fetch(`${url}state`)).json()) as LiveSnapshot;
  let seen: LiveSnapshot | null = null;
  const first = await until('live load data', async () => { const s = seen = await state(); return s.done || (s.status && s.status.sent > 0) ? s : null; }, 90_000, 500)
    .catch((e: unknown) => { throw new Error(`${String(e)}\nlast state: ${JSON.stringify(seen).slice(0, 1500)}\nrun: ${run.err.slice(-1500)}\nwatch: ${watch.out.slice(-800)}${watch.err.slice(-1500)}`); });
  assert.equal(first.done, false, `the run closed before the page saw it run: ${first.verdict} ${first.reasons.join('; ')}\nrun: ${run.err.slice(-1500)}`);
  assert.equal(first.scenario, 'db_failure_peak_load');
  assert.match(first.run_id ?? '', /^r[0-9a-f]{11}$/);
  const grown = await until('the live counts to grow', async () => {
    const s = await state();
    return s.done || (s.status && s.status.sent > first.status!.sent) ? s : null;
  }, 60_000, 500);

  // The end: the page shows the verdict and the report, the terminal the summary; the page stays up.
  const end = await until('the verdict on the page', async () => { const s = await state(); return s.done ? s : null; }, 240_000, 1000);
  assert.equal(end.verdict, 'PASS', end.reasons.join('\n'));
  assert.equal(end.run_id, first.run_id);
  assert.match(end.report_path ?? '', /report\.html$/);
  assert.equal(end.counts?.postgres?.ok, 800);
  await until('watch to say the run closed', async () => watch.err.includes(`run closed; the live view stays at ${url} until Ctrl-C`), 60_000, 200);
  assert.match(watch.out, /^\[ *\d+s\] load +sent \d+ acked \d+/m, 'status lines while the load ran');
  assert.match(watch.out, new RegExp(`^verdict: PASS {3}scenario db_failure_peak_load {3}run ${first.run_id}$`, 'm'));
  assert.match(await (await fetch(url)).text(), /"verdict":"PASS"/);
  assert.equal(watch.child.exitCode, null, 'still serving the page');

  // run --wait: the verdict's exit code and summary on its own, its page closed with it.
  const runEnded = await within(run.exited, 60_000);
  assert.deepEqual(runEnded, { code: 0, signal: null }, run.err);
  assert.match(run.out, new RegExp(`^verdict: PASS {3}scenario db_failure_peak_load {3}run ${first.run_id}$`, 'm'));
  await assert.rejects(fetch(runUrl), 'run closed its page when it exited');

  // Ctrl-C: watch closes the page and exits with the verdict's code (0 for PASS).
  const t0 = Date.now();
  watch.child.kill('SIGINT');
  const ended = await within(watch.exited, 15_000);
  assert.ok(ended, `watch did not exit within 15 s of SIGINT:\n${watch.err}`);
  assert.deepEqual(ended, { code: 0, signal: null }, watch.err);
  await assert.rejects(fetch(url), 'the page is closed');
  console.log(`run ${first.run_id}: run --web at ${runUrl}, watch --web at ${url} (${first.status!.sent} → ${grown.status?.sent ?? 'done'} sent live), `
    + `verdict ${end.verdict}; watch exited ${Date.now() - t0} ms after SIGINT`);
});
