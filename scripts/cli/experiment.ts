// `ordeal run | watch | list | abort | report`: experiments from the command line.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { validateCommand } from './validate.ts';
import { existsSync, readFileSync } from 'node:fs';
import { redeliveryDetail } from '../../activities/report/checks.ts';
import { reportJson } from '../../activities/report/write.ts';
import type { ExperimentReport } from '../../activities/report/types.ts';
import { exitCodeOf, OrdealClient, ScenarioError, type ExperimentHandle, type ExperimentResult, type ExperimentStatus } from '../client/index.ts';
import { startLiveView, type LiveView } from '../live/server.ts';
import { table } from './table.ts';

const collect = (v: string, prev: string[]) => [...prev, v];
const err = (line: string) => process.stderr.write(line + '\n');

export function statusLine(s: ExperimentStatus): string {
  const faults = s.active_faults.map((f) => `${f.type}@${f.target}`).join(',') || 'none';
  // Wall clock, not elapsed_ms: a workflow's clock only moves when it runs a task.
  const elapsed = s.started_at ? Math.max(s.elapsed_ms, Date.now() - Date.parse(s.started_at)) : s.elapsed_ms;
  return `[${(elapsed / 1000).toFixed(0).padStart(4)}s] ${s.phase.padEnd(17)} sent ${s.sent} acked ${s.acked} `
    + `failed ${s.failed} unacked ${s.unacknowledged}${s.never_sent ? ` (${s.never_sent} never sent)` : ''}  ${s.rate} req/s  p99 ${Math.round(s.p99_ms)} ms  faults: ${faults}`
    + (s.harness_gaps?.length ? `  harness gaps: ${s.harness_gaps.length}` : '');
}

const tty = process.stderr.isTTY;
/** On a terminal the progress line redraws in place; elsewhere one line per change. */
const progressLine = (line: string) => (tty ? process.stderr.write(`\r\x1b[2K${line}`) : err(line));

/** Prints a status line every second until the run closes (the query is cheap: no history grows). */
export async function follow(h: ExperimentHandle, print: (line: string) => void = progressLine): Promise<void> {
  let last = '';
  let lastPhase = '';
  for (;;) {
    const d = await h.describe().catch(() => ({ closed: false, status: 'UNKNOWN' }));
    if (d.closed) {
      if (tty && print === progressLine) process.stderr.write('\n');
      return;
    }
    const s = await h.status().catch(() => null);
    if (s) {
      // A finished phase keeps its last line on screen.
      if (tty && print === progressLine && lastPhase && s.phase !== lastPhase) process.stderr.write('\n');
      lastPhase = s.phase;
      const line = statusLine(s);
      if (line !== last) print(line);
      last = line;
    }
    await sleep(1000);
  }
}

export function summarize(r: ExperimentResult, uiUrl: string): string {
  const rep: ExperimentReport = r.report;
  const out: string[] = [];
  out.push(`verdict: ${r.verdict}   scenario ${r.scenario}   run ${r.run_id}`);
  for (const reason of r.reasons) out.push(`  - ${reason}`);
  if (rep.load) {
    const c = rep.load.counts;
    out.push(`load: sent ${c.sent}, acked ${c.acked}, failed ${c.failed}, unacknowledged ${c.unknown}; `
      + `${rep.load.achieved_rate.toFixed(0)} req/s; p50 ${rep.load.latency_ms.p50} ms, p99 ${rep.load.latency_ms.p99} ms (corrected)`);
  }
  const w = rep.load?.windows;
  if (rep.load && rep.load.thresholds.length && w) {
    const st = (x: typeof w.judged) => `p99 ${x.latency_ms.p99} ms, error rate ${(x.error_rate * 100).toFixed(2)} % over ${x.seconds} s`;
    out.push(`thresholds judged on ${w.scope === 'steady' ? 'steady state' : 'every second'}: ${st(w.judged)}`
      + `${w.excluded.length ? ` (left out: ${w.excluded.map((e) => `${e.from_s}-${e.to_s} s ${e.why}`).join('; ')})` : ''}`);
    if (w.disturbed) out.push(`while disturbed: ${st(w.disturbed)}`);
  }
  // The harness's own outages, named apart from the system's (left out of the thresholds).
  for (const g of rep.load?.harness_gaps ?? []) out.push(`harness gap: ${g.from_s}-${g.to_s} s, ${g.why.replace(/^harness gap: /, '')}`);
  for (const f of rep.faults) {
    out.push(`fault: ${f.handle.type} on ${f.handle.target} at +${f.injectedAtS.toFixed(1)} s, reverted at `
      + `${f.revertedAtS === null ? 'NEVER' : `+${f.revertedAtS.toFixed(1)} s`}${f.revert?.error ? ` (${f.revert.error})` : ''}`);
  }
  if (rep.recovery) {
    const ms = (v: number | null) => (v === null ? 'n/a' : `${(v / 1000).toFixed(2)} s`);
    out.push(`time to recovery: healthy probe ${ms(rep.recovery.time_to_healthy_ms)}, first successful request ${ms(rep.recovery.time_to_first_success_ms)}`);
  }
  if (rep.redelivery) out.push(`redelivery: resent ${rep.redelivery.resent}, acked ${rep.redelivery.acked}, ${redeliveryDetail(rep.redelivery)}`);
  if (rep.proof) out.push(`proof: ${rep.proof.kind}: ${rep.proof.detail}`);
  if (rep.reconcile) {
    const classes = ['ok', 'lost', 'duplicated', 'ghost', 'mismatched', 'unacknowledged', 'missing'] as const;
    out.push(table(['SOURCE', 'RECORDS', ...classes.map((c) => c.toUpperCase())],
      rep.reconcile.sources.map((s) => [s.source, s.records, ...classes.map((c) => s.classes[c]?.count ?? 0)])));
  }
  if (r.paths) out.push(`reports: ${r.paths.json}\n         ${r.paths.html}\n         ${r.paths.junit}`);
  out.push(`Temporal UI: ${uiUrl}`);
  return out.join('\n');
}

/** The run's report.json as written (report + counts per class per source), or rebuilt when the file is elsewhere. */
function reportJsonText(r: ExperimentResult): string {
  if (r.paths && existsSync(r.paths.json)) return readFileSync(r.paths.json, 'utf8');
  return JSON.stringify(reportJson(r.report), null, 2) + '\n';
}

function printScenarioError(e: ScenarioError): void {
  err(e.message);
  process.exitCode = 2;
}

/** The live view of a run, reading the stack's Prometheus (ORDEAL_PROMETHEUS_URL overrides). */
function liveView(ordeal: OrdealClient, h: ExperimentHandle, port: string): Promise<LiveView> {
  const n = Number(port);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`--port: expected a port number 0-65535, got ${JSON.stringify(port)}`);
  return startLiveView({ handle: h, port: n, prometheusUrl: process.env.ORDEAL_PROMETHEUS_URL ?? `http://127.0.0.1:${ordeal.config.ports.prometheus}` });
}

export function registerExperiments(program: Command): void {
  program.command('run').description('start a chaos experiment (a scenario name, a YAML file)')
    .argument('<scenario>')
    .option('--wait', 'follow the run and exit with its verdict (0 PASS, 1 FAIL, 2 ABORTED/ERROR)')
    .option('--json', 'with --wait: print the run\'s report.json on stdout')
    .option('--set <path=value>', 'override a scenario field (repeatable), e.g. --set load.rate=200', collect, [])
    .option('--id <workflowId>', 'workflow id (default ordeal-<scenario>-<time>-<rand>)')
    .option('--quiet', 'no progress lines')
    .option('--web', 'with --wait: serve the live view (a local page) while the run goes on')
    .option('--port <n>', 'with --web: the live view\'s port (default: any free one)', '0')
    .option('--dry-run', 'start nothing: validate and check every target, proxy, source and probe live (as validate --live)')
    .action(async (scenario: string, o: { wait?: boolean; json?: boolean; set: string[]; id?: string; quiet?: boolean; web?: boolean; port: string; dryRun?: boolean }) => {
      if (o.dryRun) {
        process.exitCode = await validateCommand(scenario, { set: o.set, live: true, ...(o.json ? { json: true } : {}) });
        return;
      }
      const ordeal = await OrdealClient.connect();
      try {
        let h: ExperimentHandle;
        try {
          h = await ordeal.start({ scenario, overrides: o.set, ...(o.id ? { workflowId: o.id } : {}) });
        } catch (e) {
          if (e instanceof ScenarioError) return printScenarioError(e);
          throw e;
        }
        err(`started ${h.workflowId}\nTemporal UI: ${h.uiUrl}`);
        const web = o.wait && o.web ? await liveView(ordeal, h, o.port) : null;
        err(web ? `live view: ${web.url}` : `live view: npx ordeal watch ${h.workflowId} --web`);
        if (!o.wait) {
          process.stdout.write(h.workflowId + '\n');
          return;
        }
        const following = o.quiet ? Promise.resolve() : follow(h);
        let r: ExperimentResult;
        try {
          r = await h.result();
        } catch (e) {
          if (e instanceof ScenarioError) return printScenarioError(e);
          throw e;
        } finally {
          await following;
          await web?.close();
        }
        if (o.json) process.stdout.write(reportJsonText(r));
        else process.stdout.write(summarize(r, h.uiUrl) + '\n');
        process.exitCode = exitCodeOf(r.verdict);
      } finally {
        await ordeal.close();
      }
    });

  program.command('watch').description('live progress of a run: phase, rate, p99, errors, active faults')
    .argument('<workflowId>')
    .option('--web', 'also serve the live view: a local page with the report\'s charts, fed as the run goes on')
    .option('--port <n>', 'with --web: the live view\'s port (default: any free one)', '0')
    .action(async (id: string, o: { web?: boolean; port: string }) => {
      const ordeal = await OrdealClient.connect();
      let web: LiveView | null = null;
      try {
        const h = ordeal.handle(id);
        if (o.web) {
          web = await liveView(ordeal, h, o.port);
          err(`live view: ${web.url}`);
        }
        await follow(h, (l) => process.stdout.write(l + '\n'));
        if (web) await web.done;
        const r = await h.result();
        process.stdout.write(summarize(r, h.uiUrl) + '\n');
        process.exitCode = exitCodeOf(r.verdict);
        // The page keeps showing the verdict until the command is stopped.
        if (web) {
          err(`run closed; the live view stays at ${web.url} until Ctrl-C`);
          await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
        }
      } finally {
        await web?.close();
        await ordeal.close();
      }
    });

  program.command('list').description('recent experiment runs (filter by scenario / verdict)')
    .option('--scenario <name>')
    .option('--verdict <verdict>', 'PASS | FAIL | ABORTED | ERROR')
    .option('-n, --limit <n>', 'at most n runs', '20')
    .option('--json')
    .action(async (o: { scenario?: string; verdict?: string; limit: string; json?: boolean }) => {
      const ordeal = await OrdealClient.connect();
      try {
        const runs = await ordeal.list({ ...(o.scenario ? { scenario: o.scenario } : {}), ...(o.verdict ? { verdict: o.verdict } : {}), limit: Number(o.limit) });
        if (o.json) process.stdout.write(JSON.stringify(runs, null, 2) + '\n');
        else process.stdout.write(table(['WORKFLOW ID', 'SCENARIO', 'VERDICT', 'STATUS', 'STARTED'],
          runs.map((r) => [r.workflowId, r.scenario, r.verdict, r.status, r.startTime.toISOString()])) + '\n');
      } finally {
        await ordeal.close();
      }
    });

  program.command('abort').description('abort a run: load stops, every fault is reverted, verdict ABORTED')
    .argument('<workflowId>')
    .requiredOption('--reason <text>', 'why (recorded in the report)')
    .action(async (id: string, o: { reason: string }) => {
      const ordeal = await OrdealClient.connect();
      try {
        await ordeal.handle(id).abort(o.reason);
        err(`abort signalled to ${id}: ${o.reason}`);
      } finally {
        await ordeal.close();
      }
    });

  program.command('report').description('the verdict and report of a finished run')
    .argument('<workflowId>')
    .option('--json', 'print report.json')
    .action(async (id: string, o: { json?: boolean }) => {
      const ordeal = await OrdealClient.connect();
      try {
        const h = ordeal.handle(id);
        const d = await h.describe();
        if (!d.closed) {
          err(`${id} is still running; current status:`);
          process.stdout.write(statusLine(await h.status()) + '\n');
          return;
        }
        const r = await h.result();
        if (o.json) process.stdout.write(reportJsonText(r));
        else process.stdout.write(summarize(r, h.uiUrl) + '\n');
        process.exitCode = exitCodeOf(r.verdict);
      } catch (e) {
        if (e instanceof ScenarioError) return printScenarioError(e);
        throw e;
      } finally {
        await ordeal.close();
      }
    });
}
