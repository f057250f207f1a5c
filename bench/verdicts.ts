// `npm run bench:verdicts [-- --runs N]`: the flagship demo from a cold stack, N times.
// Each run: `ordeal stack down --purge` (every service stopped, every byte of data gone),
// then `npm run demo` exactly as a new user runs it (stack up with its warm-up pass, then
// db_failure_peak_load at 1,000/s with PostgreSQL killed). Prints each run's verdict,
// steady-state p99 and error rate, and writes bench/results/verdicts.json with the
// machine, the time and the load average around every run. A benchmark for a quiet
// machine: on a busy one the load averages say why a run was slow.
//   --runs N        runs (default 10)
//   --out FILE      result file (default bench/results/verdicts.json)
//   --keep-up       leave the last run's stack up (default: down, data kept)
// The stack is the one ORDEAL_HOME / ORDEAL_PORT_OFFSET name (as for `ordeal stack`).
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, hostname, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import type { ExperimentReport } from '../activities/report/types.ts';
import { loadStackConfig, repoRoot } from '../scripts/stack/config.ts';

const { values } = parseArgs({ options: {
  runs: { type: 'string', default: '10' },
  out: { type: 'string', default: join(repoRoot, 'bench', 'results', 'verdicts.json') },
  'keep-up': { type: 'boolean', default: false },
} });
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs: expected a whole number >= 1, got ${JSON.stringify(values.runs)}`);
const config = loadStackConfig();
const logDir = join(config.home, 'bench', 'verdicts');
mkdirSync(logDir, { recursive: true });
const la = () => loadavg().map((x) => Math.round(x * 100) / 100);
const say = (line: string) => process.stderr.write(`[bench:verdicts] ${line}\n`);

/** Runs a command with stdout and stderr into `log`; resolves with its exit code and stdout. */
function run(cmd: string, args: string[], log: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const file = createWriteStream(log, { flags: 'a' });
    const child = spawn(cmd, args, { cwd: repoRoot, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => { stdout += b; file.write(b); });
    child.stderr.on('data', (b: Buffer) => { stderr += b; file.write(b); });
    child.once('error', reject);
    child.once('close', (code, signal) => { file.end(); resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }); });
  });
}

export interface VerdictRun {
  run: number;
  started_at: string;
  verdict: string;
  exit_code: number;
  demo_seconds: number;
  /** Steady-state (judged) seconds: the thresholds' numbers. */
  steady_p99_ms: number | null;
  steady_error_rate: number | null;
  steady_seconds: number | null;
  p99_ms_all: number | null;
  excluded: string[];
  reasons: string[];
  warmup: string | null;
  load_average_before: number[];
  load_average_after: number[];
  report: string | null;
  log: string;
}

const results: VerdictRun[] = [];
const ordeal = join(repoRoot, 'scripts', 'ordeal');
say(`${runs} run(s) of npm run demo, each from a purged stack at ${config.home}; load average ${la().join(' ')} (${cpus().length} CPUs)`);
for (let i = 1; i <= runs; i++) {
  const log = join(logDir, `run-${i}.log`);
  writeFileSync(log, '');
  const before = la();
  const started = new Date();
  const down = await run(ordeal, ['stack', 'down', '--purge'], log);
  if (down.code !== 0) throw new Error(`run ${i}: stack down --purge failed (exit ${down.code}); see ${log}`);
  const t0 = Date.now();
  const demo = await run('bash', [join(repoRoot, 'scripts', 'demo')], log);
  const demoSeconds = Math.round((Date.now() - t0) / 100) / 10;
  const reportPath = /^reports: (\S+report\.json)$/m.exec(demo.stdout)?.[1] ?? null;
  let rep: ExperimentReport | null = null;
  if (reportPath) rep = JSON.parse(readFileSync(reportPath, 'utf8')) as ExperimentReport;
  const judged = rep?.load?.windows?.judged ?? null;
  const r: VerdictRun = {
    run: i, started_at: started.toISOString(), verdict: rep?.verdict ?? `no report (demo exit ${demo.code})`, exit_code: demo.code,
    demo_seconds: demoSeconds,
    steady_p99_ms: judged?.latency_ms.p99 ?? null, steady_error_rate: judged?.error_rate ?? null, steady_seconds: judged?.seconds ?? null,
    p99_ms_all: rep?.load?.latency_ms.p99 ?? null,
    excluded: (rep?.load?.windows?.excluded ?? []).map((e) => `${e.from_s}-${e.to_s} s ${e.why}`),
    reasons: rep?.reasons ?? [], warmup: /✓ warm-up\s+(.*)$/m.exec(demo.stderr)?.[1] ?? /! warm-up\s+(.*)$/m.exec(demo.stderr)?.[1] ?? null,
    load_average_before: before, load_average_after: la(), report: reportPath, log,
  };
  results.push(r);
  say(`run ${i}/${runs}: ${r.verdict}  steady p99 ${r.steady_p99_ms ?? '-'} ms  error rate ${r.steady_error_rate === null ? '-' : (r.steady_error_rate * 100).toFixed(2) + ' %'}`
    + `  demo ${r.demo_seconds} s  load average ${before[0]} -> ${r.load_average_after[0]}${r.verdict === 'PASS' ? '' : `  (${r.reasons.slice(0, 2).map((x) => x.slice(0, 160)).join('; ')}; log ${log})`}`);
}
if (!values['keep-up']) await run(ordeal, ['stack', 'down'], join(logDir, 'down.log'));

const pass = results.filter((r) => r.verdict === 'PASS' && r.steady_p99_ms !== null && r.steady_p99_ms < 1000).length;
const out = {
  bench: 'verdicts',
  what: 'npm run demo from a purged stack (stack down --purge, then the demo: stack up with its warm-up pass, db_failure_peak_load at 1,000/s, PostgreSQL killed 10 s)',
  at: new Date().toISOString(),
  machine: { host: hostname(), cpus: cpus().length, cpu_model: cpus()[0]?.model ?? null, memory_gb: Math.round(totalmem() / 2 ** 30), node: process.version },
  load_average_at_end: la(),
  runs: results,
  pass, of: runs,
  steady_p99_ms_max: Math.max(0, ...results.map((r) => r.steady_p99_ms ?? Infinity)),
  demo_seconds_max: Math.max(0, ...results.map((r) => r.demo_seconds)),
};
mkdirSync(dirname(values.out), { recursive: true });
writeFileSync(values.out, JSON.stringify(out, null, 2) + '\n');
process.stdout.write(`\n RUN  VERDICT  STEADY P99 ms  ERROR RATE  DEMO s  LOAD AVG (1 min, before)\n`);
for (const r of results) {
  process.stdout.write(` ${String(r.run).padStart(3)}  ${r.verdict.padEnd(7)}  ${String(r.steady_p99_ms ?? '-').padStart(13)}  `
    + `${(r.steady_error_rate === null ? '-' : (r.steady_error_rate * 100).toFixed(2) + ' %').padStart(10)}  ${String(r.demo_seconds).padStart(6)}  ${r.load_average_before[0]}\n`);
}
process.stdout.write(`${pass}/${runs} PASS with steady-state p99 < 1 s; slowest demo ${out.demo_seconds_max} s; written to ${values.out}\n`);
process.exitCode = pass === runs ? 0 : 1;
