// `npm run bench:crash-trials [-- --trials 20]`: crash safety, measured. A short
// db_failure_peak_load (PostgreSQL killed for 4 s, 150 payments/s for 30 s, the shipped
// thresholds) runs once without a crash, then N times while the orchestrator worker
// and the load worker are SIGKILLed at a random moment of one phase (each phase of the
// run in turn, from ledger generation to the report) and restarted after a random pause. Each trial must give the no-crash verdict (the same failing classes, if any)
// and leave no fault active. With --defect ack_before_commit the payment API carries
// that defect: every run must FAIL with lost payments. Prints the table and writes
// bench/results/crash-trials.json.
//   --trials N           crash trials (default 20)
//   --defect NAME        a seeded defect for the payment API (default none: the correct system)
//   --seed N             the random moments' seed (default: the time), printed for replays
//   --out FILE           result file (default bench/results/crash-trials.json)
// Uses the stack ORDEAL_HOME / ORDEAL_PORT_OFFSET name (brought up when down) and its
// own worker processes on their own task queues; the stack's workers are not touched.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, hostname, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import type { ExperimentResult } from '../scripts/client/index.ts';
import { OrdealClient } from '../scripts/client/index.ts';
import { loadStackConfig, repoRoot } from '../scripts/stack/config.ts';
import { ordealDbUrl, stackServices, up } from '../scripts/stack/index.ts';
import { parseDefects } from '../systems/defects.ts';
import { failingClasses } from './detection-matrix.ts';

const { values } = parseArgs({ options: {
  trials: { type: 'string', default: '20' },
  defect: { type: 'string', default: 'none' },
  seed: { type: 'string' },
  out: { type: 'string', default: join(repoRoot, 'bench', 'results', 'crash-trials.json') },
} });
const trials = Number(values.trials);
if (!Number.isInteger(trials) || trials < 1) throw new Error(`--trials: expected a whole number >= 1, got ${JSON.stringify(values.trials)}`);
const defects = parseDefects(values.defect);
const seed = values.seed !== undefined ? Number(values.seed) : Date.now() % 1_000_000;
if (!Number.isFinite(seed)) throw new Error(`--seed: expected a number, got ${JSON.stringify(values.seed)}`);

// A small deterministic generator (mulberry32): the same --seed gives the same kill moments.
let state = seed >>> 0;
const random = () => {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

const SCENARIO = 'db_failure_peak_load';
// 150/s for 30 s with a 2 s ramp: 150 × (30 − 1) = 4,350 arrivals = the ledger. The load
// outlasts the fault window by ~15 s, so the thresholds are judged on enough steady seconds.
const OVERRIDES = ['ledger.messages=4350', 'load.rate=150', 'load.duration=30s', 'load.warmup=2s',
  'faults.0.at=5s', 'faults.0.duration=4s', 'recovery.timeout=45s', 'redelivery.timeout=45s', 'drain.timeout=45s'];

const config = loadStackConfig();
const say = (line: string) => process.stderr.write(`[bench:crash-trials] ${line}\n`);
const la = () => loadavg().map((x) => Math.round(x * 100) / 100);
const taskQueue = `crash-trials-${randomBytes(3).toString('hex')}`;
const loadTaskQueue = `${taskQueue}-load`;

/** One worker process through the real CLI (`ordeal worker`), ready once it says so. */
async function startWorker(kind: 'orchestrator' | 'load'): Promise<ChildProcess> {
  const args = [join(repoRoot, 'scripts', 'cli', 'main.ts'), 'worker', '--no-metrics', '--task-queue', taskQueue, '--load-task-queue', loadTaskQueue,
    kind === 'orchestrator' ? '--no-load' : '--no-orchestrator'];
  const child = spawn(process.execPath, ['--disable-warning=TimeoutNegativeWarning', ...args], {
    cwd: repoRoot, env: { ...process.env, ORDEAL_WORKER_ID: `crash-trials-${kind}-${randomBytes(2).toString('hex')}` }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${kind} worker not ready in 60 s:\n${out.slice(-2000)}`)), 60_000);
    const onData = (b: Buffer) => { out = (out + b.toString()).slice(-20_000); if (out.includes('worker ready')) { clearTimeout(timer); resolve(); } };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code, sig) => { clearTimeout(timer); reject(new Error(`${kind} worker exited (${code ?? sig}) before ready:\n${out.slice(-2000)}`)); });
  });
  child.stdout!.resume();
  child.stderr!.resume();
  return child;
}

function kill(child: ChildProcess, sig: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill(sig);
  return exited;
}

async function leases(runId: string): Promise<{ state: string; reverted_by: string | null }[]> {
  const db = new pg.Client({ connectionString: ordealDbUrl(config) });
  await db.connect();
  try {
    return (await db.query('SELECT state, reverted_by FROM ordeal_fault_leases WHERE run_id = $1', [runId])).rows;
  } finally { await db.end(); }
}

/** The reasons' kinds (thresholds broken, classes), without numbers: what "the same verdict" compares. */
function brokenThresholds(r: ExperimentResult): string[] {
  return (r.report.load?.thresholds ?? []).filter((t) => !t.ok).map((t) => t.name).sort();
}

interface Trial {
  trial: number;
  aimed_at: string;
  kill_at_s: number | null;
  phase_at_kill: string | null;
  down_s: number;
  verdict: string;
  classes: string[];
  thresholds_broken: string[];
  harness_gaps: string[];
  steady_p99_ms: number | null;
  leases: string[];
  faults_left_active: number;
  same_as_no_crash: boolean;
  run_id: string;
  seconds: number;
}

/** Where a trial's kill lands: a phase of the run and how far into it (ms after the phase opened). */
interface KillPlan { phase: string; afterMs: number }

// Every phase a crash can hit, in turn: trial i aims at TARGETS[(i - 1) % n]. The load phase is
// most of a run, so it is aimed at three times (before, in and after the fault window).
const TARGETS = ['generating-ledger', 'steady-state', 'load', 'load', 'load', 'recovery', 'redelivery', 'drain', 'reconcile', 'report'] as const;

/** How long each phase lasted in the no-crash run, in ms (a phase that repeats is summed). */
function phaseDurations(r: ExperimentResult): Map<string, number> {
  const d = new Map<string, number>();
  for (const p of r.report.phases) {
    if (!p.ended_at) continue;
    d.set(p.phase, (d.get(p.phase) ?? 0) + Date.parse(p.ended_at) - Date.parse(p.started_at));
  }
  return d;
}

async function runOne(ordeal: OrdealClient, workers: { orch: ChildProcess; load: ChildProcess }, plan: KillPlan | null, downMs: number) {
  const t0 = Date.now();
  const h = await ordeal.start({ scenario: SCENARIO, overrides: OVERRIDES, loadTaskQueue });
  let phase: string | null = null;
  let killedAt: number | null = null;
  let ended = false;
  const resultP = h.result();
  resultP.then(() => { ended = true; }, () => { ended = true; });
  if (plan !== null) {
    // Wait for the aimed-at phase (or any later one: a phase shorter than the poll is passed
    // over, and the kill then lands in whatever phase runs), then for the offset into it.
    const order = ['validating', 'generating-ledger', 'steady-state', 'load', 'recovery', 'redelivery', 'drain', 'reconcile', 'report', 'done'];
    const want = order.indexOf(plan.phase);
    let entered: number | null = null;
    while (!ended) {
      const now = (await h.status().catch(() => null))?.phase;
      if (now !== undefined && order.indexOf(now) >= want) { entered = Date.now(); break; }
      await sleep(25);
    }
    if (entered !== null && !ended) await Promise.race([sleep(Math.max(0, plan.afterMs - (Date.now() - entered))), resultP.catch(() => undefined)]);
    if (!ended) {
      phase = (await h.status().catch(() => null))?.phase ?? 'unknown';
      killedAt = Date.now() - t0;
      await Promise.all([kill(workers.orch, 'SIGKILL'), kill(workers.load, 'SIGKILL')]);
      await sleep(downMs);
      [workers.orch, workers.load] = await Promise.all([startWorker('orchestrator'), startWorker('load')]);
    }
  }
  const r = await resultP;
  return { r, phase, killedAt, seconds: (Date.now() - t0) / 1000 };
}

say(`stack at ${config.home}; defects: ${defects.join(', ') || 'none'}; seed ${seed}; load average ${la().join(' ')}`);
await up({ config, services: stackServices, defects });
const workers = { orch: await startWorker('orchestrator'), load: await startWorker('load') };
const ordeal = await OrdealClient.connect({ config, taskQueue });
const results: Trial[] = [];
let baseline: { verdict: string; classes: string[]; thresholds: string[]; seconds: number; run_id: string; reasons: string[]; phase_ms: Record<string, number> };
try {
  const b = await runOne(ordeal, workers, null, 0);
  const durations = phaseDurations(b.r);
  baseline = { verdict: b.r.verdict, classes: failingClasses(b.r), thresholds: brokenThresholds(b.r), seconds: b.seconds, run_id: b.r.run_id, reasons: b.r.reasons,
    phase_ms: Object.fromEntries(durations) };
  say(`no-crash run: ${baseline.verdict}${baseline.classes.length ? ` (${baseline.classes.join(', ')})` : ''}${baseline.thresholds.length ? ` thresholds broken: ${baseline.thresholds.join(', ')}` : ''} in ${b.seconds.toFixed(1)} s`);
  for (let i = 1; i <= trials; i++) {
    const target = TARGETS[(i - 1) % TARGETS.length]!;
    // A random moment inside the aimed-at phase, as long as it lasted without a crash.
    const plan: KillPlan = { phase: target, afterMs: Math.round(random() * 0.9 * (durations.get(target) ?? 0)) };
    const down = Math.round(500 + random() * 2500);
    const { r, phase, killedAt, seconds } = await runOne(ordeal, workers, plan, down);
    const ls = await leases(r.run_id);
    const classes = failingClasses(r);
    const thresholds = brokenThresholds(r);
    const active = ls.filter((l) => l.state !== 'reverted').length;
    const t: Trial = {
      trial: i, aimed_at: `${plan.phase} +${(plan.afterMs / 1000).toFixed(2)} s`, kill_at_s: killedAt === null ? null : killedAt / 1000, phase_at_kill: phase, down_s: down / 1000, verdict: r.verdict, classes,
      thresholds_broken: thresholds, harness_gaps: (r.report.load?.harness_gaps ?? []).map((g) => `${g.from_s}-${g.to_s} s`),
      steady_p99_ms: r.report.load?.windows?.judged.latency_ms.p99 ?? null,
      leases: ls.map((l) => `${l.state}${l.reverted_by ? ` by ${l.reverted_by}` : ''}`), faults_left_active: active,
      // A FAIL by its failing classes is the same FAIL whatever latency did; a FAIL by
      // thresholds alone must break the same thresholds.
      same_as_no_crash: r.verdict === baseline.verdict && classes.join() === baseline.classes.join() && active === 0
        && (baseline.verdict !== 'FAIL' || baseline.classes.length > 0 || thresholds.join() === baseline.thresholds.join()),
      run_id: r.run_id, seconds,
    };
    results.push(t);
    say(`trial ${i}/${trials}: aimed at ${t.aimed_at}, kill at ${t.kill_at_s ?? '-'} s (${t.phase_at_kill ?? 'run ended first'}), down ${t.down_s} s -> ${t.verdict}`
      + `${classes.length ? ` ${classes.join(',')}` : ''}${thresholds.length ? ` thresholds ${thresholds.join(',')}` : ''}; gaps ${t.harness_gaps.join(', ') || 'none'}; `
      + `faults left active ${active}; ${t.same_as_no_crash ? 'same' : `DIFFERENT (${r.reasons.slice(0, 3).join('; ')})`}`);
  }
} finally {
  await Promise.all([kill(workers.orch, 'SIGTERM'), kill(workers.load, 'SIGTERM')]);
  await ordeal.close();
  if (defects.length) await up({ config, services: stackServices, only: ['payment-api'], defects: [] });
}

const same = results.filter((t) => t.same_as_no_crash).length;
const landed = results.filter((t) => t.kill_at_s !== null).length;
const byPhase: Record<string, number> = {};
for (const t of results) if (t.phase_at_kill) byPhase[t.phase_at_kill] = (byPhase[t.phase_at_kill] ?? 0) + 1;
const out = {
  bench: 'crash-trials',
  what: `${SCENARIO} (${OVERRIDES.join(' ')}); orchestrator and load worker SIGKILLed at a random moment of each phase in turn (${TARGETS.join(', ')}), restarted after 0.5-3 s`,
  at: new Date().toISOString(), commit: execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).trim(), seed, defects,
  machine: { host: hostname(), cpus: cpus().length, node: process.version }, load_average_at_end: la(),
  no_crash: baseline!, trials: results, same, of: trials, kills_landed: landed, kills_by_phase: byPhase,
  faults_left_active: results.reduce((a, t) => a + t.faults_left_active, 0),
};
mkdirSync(dirname(values.out), { recursive: true });
writeFileSync(values.out, JSON.stringify(out, null, 2) + '\n');
process.stdout.write('\n TRIAL  AIMED AT                  KILL AT s  PHASE AT KILL      DOWN s  VERDICT  CLASSES / THRESHOLDS          GAPS         LEFT ACTIVE  SAME\n');
for (const t of results) {
  process.stdout.write(` ${String(t.trial).padStart(5)}  ${t.aimed_at.padEnd(24)}  ${String(t.kill_at_s ?? '-').padStart(9)}  ${(t.phase_at_kill ?? '(ended first)').padEnd(17)}  ${String(t.down_s).padStart(6)}  `
    + `${t.verdict.padEnd(7)}  ${([...t.classes, ...t.thresholds_broken].join(',') || '-').padEnd(28)}  ${(t.harness_gaps.join(',') || '-').padEnd(11)}  ${String(t.faults_left_active).padStart(11)}  ${t.same_as_no_crash ? 'yes' : 'NO'}\n`);
}
process.stdout.write(`${same}/${trials} trials gave the no-crash verdict (${baseline!.verdict}${baseline!.classes.length ? `: ${baseline!.classes.join(', ')}` : ''}); `
  + `${landed} kills landed before the run ended (${Object.entries(byPhase).map(([p, n]) => `${p} ${n}`).join(', ')}); ${out.faults_left_active} faults left active; written to ${values.out}\n`);
process.exitCode = same === trials && out.faults_left_active === 0 ? 0 : 1;
