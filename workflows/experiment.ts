// The chaos experiment: one durable workflow per run. Every side effect is an
// activity; this file only decides what happens when, and guarantees that every
// injected fault is reverted whatever happens (success, failure, abort signal,
// cancellation from the Web UI, circuit breaker, deadline, worker crash).
//
//   resolve scenario -> ledger -> steady state -> load + fault timeline (+ breaker)
//   -> recovery -> judge load -> redelivery -> drain -> reconcile -> report
//
// Activity options: profiles.ts. The fault timeline and revert-all: fault-lifecycle.ts.
// Live state behind the status query: live.ts. Pure decisions: excluded.ts, verdict.ts.
import {
  ActivityFailure, ApplicationFailure, CancellationScope, defineQuery, defineSignal, isCancellation,
  setHandler, sleep, upsertSearchAttributes, uuid4, workflowInfo,
} from '@temporalio/workflow';
import type { LedgerRef } from '../activities/ledger/types.ts';
import { planLoadShards } from '../activities/load/plan.ts';
import type { LoadShardResult, LoadSummary } from '../activities/load/types.ts';
import type { RecoveryMeasurement } from '../activities/probe/probe.ts';
import type { ReconcileResult } from '../activities/reconcile/types.ts';
import type { ExperimentReport, ProofSummary, RecoveryResult, ReportPaths } from '../activities/report/types.ts';
import type { Scenario } from '../activities/scenario/schema.ts';
import { redeliveryFailure, redeliverySummary } from './answers.ts';
import { excludedWindows } from './excluded.ts';
import { failureTypeOf, messageOf } from './failure.ts';
import { FaultLifecycle } from './fault-lifecycle.ts';
import { LiveState } from './live.ts';
import { ABORT_SIGNAL, LOAD_PROGRESS_SIGNAL, LOAD_TASK_QUEUE, STATUS_QUERY } from './names.ts';
import { experimentActivities as acts, loadActivitiesOn } from './profiles.ts';
import { partialLoadSummary, progressTotals } from './progress.ts';
import { partialProofPlan, proofSummary } from './proof.ts';
import {
  OrdealRunId, OrdealScenario, OrdealVerdict,
  type AbortRequest, type ExperimentInput, type ExperimentResult, type ExperimentStatus, type LoadProgress,
} from './types.ts';
import { decideVerdict, SYSTEM_FAILURE_TYPES } from './verdict.ts';

export const abortSignal = defineSignal<[AbortRequest]>(ABORT_SIGNAL);
export const loadProgressSignal = defineSignal<[LoadProgress]>(LOAD_PROGRESS_SIGNAL);
export const statusQuery = defineQuery<ExperimentStatus>(STATUS_QUERY);

/** What the phases found, filled in as they run: the report is built from it whatever ended the run. */
interface Findings {
  ledger: LedgerRef | null;
  load: LoadSummary | null;
  recovery: RecoveryResult | null;
  redelivery: ExperimentReport['redelivery'];
  drain: ExperimentReport['drain'];
  reconcile: ReconcileResult | null;
  proof: ProofSummary | null;
}

/** A run cut short waits at most this long for recovery and for its drain before its partial proof (the reconcile bound is in profiles.ts). */
const PARTIAL_PROOF_RECOVERY_MS = 60_000;
const PARTIAL_PROOF_DRAIN_MS = 30_000;

/** One run: what every phase reads and writes. */
interface Run {
  readonly runId: string;
  readonly workflowId: string;
  readonly scenario: Scenario;
  readonly live: LiveState;
  readonly faults: FaultLifecycle;
  readonly findings: Findings;
  /** Each makes the verdict FAIL. */
  readonly failures: string[];
  /** Context (capped faults, slow drains); never changes the verdict. */
  readonly notes: string[];
  /** Load shards and redelivery, on the run's load task queue. */
  readonly load: ReturnType<typeof loadActivitiesOn>;
  /** The phases' scope: abort, UI cancellation (through the root scope), the breaker and the deadline cancel it. */
  readonly scope: CancellationScope;
  breakerReason: string | null;
  /** Settles when every load shard has stopped and flushed its outcomes; null until the load phase began. */
  loadSettled: Promise<PromiseSettledResult<LoadShardResult>[]> | null;
}

/** The load phase while it winds down: what the later phases pick up. */
interface LoadPhase {
  startedAt: number;
  shardResults: LoadShardResult[];
  /** Time to recovery, measured from the last revert while load may still be running; null without faults. */
  recovery: Promise<RecoveryMeasurement | null>;
  breaker: CancellationScope;
}

/** A run proxy's lease, renewed while the run lives: a dead run's proxies go this long after it died. */
const RUN_PROXY_LEASE_MS = 5 * 60_000;

export async function chaosExperiment(input: ExperimentInput): Promise<ExperimentResult> {
  const runId = input.runId ?? defaultRunId();
  const live = new LiveState(runId, Date.now());
  const failures: string[] = [];
  const notes: string[] = [];
  const faults = new FaultLifecycle({ runId, failures, notes, onReverted: (at) => live.onReverted(at), stalledShards: (now) => live.stalledShards(now) });
  live.enter('validating');
  setHandler(statusQuery, () => live.status(faults));
  const scope = new CancellationScope();
  setHandler(abortSignal, ({ reason }) => {
    live.abortReason ??= `aborted: ${reason || 'no reason given'}`;
    scope.cancel();
  });
  setHandler(loadProgressSignal, (progress) => live.onProgress(progress));
  upsertSearchAttributes([{ key: OrdealRunId, value: runId }]);

  const scenario = await resolveScenario(input);
  live.scenario = scenario.name;
  upsertSearchAttributes([{ key: OrdealScenario, value: scenario.name }]);
  const run: Run = {
    runId, workflowId: workflowInfo().workflowId, scenario, live, faults, failures, notes, scope, breakerReason: null, loadSettled: null,
    findings: { ledger: null, load: null, recovery: null, redelivery: null, drain: null, reconcile: null, proof: null },
    load: loadActivitiesOn(input.loadTaskQueue ?? LOAD_TASK_QUEUE),
  };

  // Overall deadline: a workflow timer, so it holds across worker crashes.
  const deadline = { ms: scenario.safety.deadline ?? defaultDeadlineMs(scenario), hit: false, scope: new CancellationScope() };
  deadline.scope.run(() => sleep(deadline.ms, { summary: `overall deadline ${Math.round(deadline.ms / 1000)} s` })).then(() => {
    deadline.hit = true;
    scope.cancel();
  }, () => { /* the run finished first */ });

  let cancelled = false;
  let error: string | null = null;
  try {
    // The system's proxies for this run, their lease renewed while it lives (issue 11).
    await scope.run(() => faults.useSystem(scenario.system, RUN_PROXY_LEASE_MS));
    await scope.run(() => runPhases(run));
  } catch (err) {
    if (isCancellation(err)) cancelled = true;
    else if (SYSTEM_FAILURE_TYPES.has(failureTypeOf(err) ?? '')) failures.push(`${live.phase}: ${messageOf(err)}`);
    else error = `${live.phase} failed: ${messageOf(err)}`;
  }
  deadline.scope.cancel();

  // Whatever happened: stop the stragglers, let in-flight injections land, heal LIFO,
  // prove what can still be proven, and write what we know — all of it immune to cancellation.
  return CancellationScope.nonCancellable(async () => {
    scope.cancel();
    await faults.settled();
    if (faults.active.length > 0) live.enter(live.phase, 'reverting faults');
    await faults.revertAll(cancelled ? 'experiment stopped' : 'experiment ended');
    const revertFailed = faults.stuck() !== undefined;
    if (cancelled) {
      live.abortReason ??= run.breakerReason
        ?? (deadline.hit ? `overall deadline of ${deadline.ms} ms passed` : 'cancelled (workflow cancellation requested, e.g. from the Temporal UI)');
    }
    const plan = partialProofPlan({ stopped: cancelled, revertFailed, error, loadStarted: run.loadSettled !== null });
    const partial = plan.attempt ? await partialProof(run) : { why: plan.why, neverSent: 0 };
    run.findings.proof = proofSummary(run.findings.reconcile, partial.why ?? '', partial.neverSent);
    // After the partial proof: its sources may reach the system through these proxies.
    await faults.removeProxies();
    const { verdict, reasons } = decideVerdict({
      revertFailed, error, stopped: cancelled ? live.abortReason : null, failures, notes, reconciled: run.findings.reconcile,
    });
    live.verdict = verdict;
    if (!run.findings.load && live.progress.size > 0) run.findings.load = partialLoadSummary(live.progress.values());
    return writeReport(run, verdict, reasons);
  });
}

// ---- the phases, in order ------------------------------------------------------
async function runPhases(run: Run): Promise<void> {
  run.findings.ledger = await generateLedger(run);
  await checkSteadyState(run);
  const load = await loadUnderFaults(run);
  run.findings.recovery = await measureRecovery(run, load);
  run.findings.load = await judgeLoad(run, load);
  run.findings.redelivery = await redeliver(run);
  run.findings.drain = await drain(run);
  run.findings.reconcile = await reconcile(run);
}

/** 1. Resolve + validate. A bad scenario fails the workflow, non-retryable, before anything is touched. */
async function resolveScenario(input: ExperimentInput): Promise<Scenario> {
  const name = typeof input.scenario === 'string' ? input.scenario : 'inline';
  try {
    const resolved = await acts.resolveScenario.executeWithOptions({ summary: `resolve + validate scenario ${name}` },
      [{ scenario: input.scenario, overrides: input.overrides ?? [] }]);
    return resolved.scenario;
  } catch (err) {
    upsertSearchAttributes([{ key: OrdealVerdict, value: 'ERROR' }, { key: OrdealScenario, value: name }]);
    const cause = err instanceof ActivityFailure ? err.cause : err;
    if (cause instanceof ApplicationFailure && cause.type === 'InvalidScenario') {
      throw ApplicationFailure.create({ type: 'InvalidScenario', nonRetryable: true, message: cause.message, details: cause.details as unknown[] });
    }
    throw ApplicationFailure.create({ type: 'ScenarioResolutionFailed', nonRetryable: true, message: messageOf(err) });
  }
}

/** 2. Ground truth, persisted before anything is sent. */
function generateLedger({ live, runId, scenario: { ledger } }: Run): Promise<LedgerRef> {
  live.enter('generating-ledger', `${ledger.messages} entries`);
  return acts.generateLedger.executeWithOptions({ summary: `generate ledger: ${ledger.messages} entries, seed ${ledger.seed}` },
    [{ runId, spec: ledger }]);
}

/** 3. Steady state: the system is healthy before we start. */
async function checkSteadyState({ live, scenario: s }: Run): Promise<void> {
  live.enter('steady-state');
  const url = s.steady_state.probe ?? s.recovery.probe;
  await acts.checkSteadyState.executeWithOptions({
    summary: `steady state: ${url} healthy ${s.steady_state.healthy_probes}x in a row`, startToCloseTimeout: s.steady_state.timeout + 30_000,
  }, [{ url, timeoutMs: s.steady_state.timeout, healthyProbes: s.steady_state.healthy_probes, intervalMs: s.recovery.interval }]);
}

/** 4. Load, concurrent with the fault timeline and watched by the circuit breaker. */
async function loadUnderFaults(run: Run): Promise<LoadPhase> {
  const s = run.scenario;
  run.live.enter('load', `${s.load.executor} ${s.load.rate ?? ''}${s.load.rate ? ' req/s' : ''}`);
  const startedAt = Date.now();
  const breaker = startBreaker(run);
  const shards = planLoadShards(run.runId, s.load, s.ledger);
  run.live.onLoadStarted(startedAt, shards.length);
  const startToCloseTimeout = loadDurationMs(s) + 15 * 60_000;
  const shardCalls = shards.map((shard) => run.load.runLoadShard.executeWithOptions({
    summary: `load shard ${shard.shard + 1}/${shard.shards}: ledger [${shard.from}, ${shard.to})`, startToCloseTimeout,
  }, [{ ...shard, scenario: run.scenario.name, progress: { workflowId: run.workflowId } }]));
  run.loadSettled = Promise.allSettled(shardCalls);
  // The live view and the fault timeline tell a shard that finished from one that went quiet (a harness gap opening). No command.
  shardCalls.forEach((call, i) => { const done = () => run.live.onShardDone(shards[i]!.shard); void call.then(done, done); });
  const shardsDone = Promise.all(shardCalls);
  const faultsDone = run.faults.start(s.faults, { loadStartedAt: startedAt, maxFaultDurationMs: s.safety.max_fault_duration, ...(s.system ? { system: s.system } : {}) });

  const recovery = s.faults.length === 0 ? Promise.resolve(null) : faultsDone.then(() => acts.awaitRecovery.executeWithOptions({
    summary: `time to recovery: ${s.recovery.probe}${s.recovery.business ? ` then ${s.recovery.business.url}` : ''}`,
    startToCloseTimeout: s.recovery.timeout + 60_000,
  }, [{ probe: s.recovery.probe, since: run.faults.lastRevertAt ?? Date.now(), timeoutMs: s.recovery.timeout, intervalMs: s.recovery.interval,
    ...(s.recovery.business ? { business: { ...s.recovery.business } } : {}) }]));
  recovery.catch(() => { /* awaited by measureRecovery */ });

  const [shardResults] = await Promise.all([shardsDone, faultsDone]);
  // With a fault possibly still in effect, recovery and reconciliation would measure the fault, not the system.
  const stuck = run.faults.stuck();
  if (stuck) {
    throw ApplicationFailure.create({ type: 'RevertFailed', nonRetryable: true,
      message: `fault ${stuck.handle.faultId} (${stuck.handle.type} on ${stuck.handle.target}) could not be reverted; later phases skipped` });
  }
  return { startedAt, shardResults, recovery, breaker };
}

/** The circuit breaker: a system down longer than abort_if_down_for stops the run (ABORTED). */
function startBreaker(run: Run): CancellationScope {
  const { safety, recovery } = run.scenario;
  const scope = new CancellationScope();
  scope.run(() => acts.watchHealth.executeWithOptions({
    summary: `circuit breaker: abort if ${recovery.probe} is down for ${safety.abort_if_down_for} ms`,
    heartbeatTimeout: Math.max(15_000, 3 * safety.probe_interval),
  }, [{ url: recovery.probe, intervalMs: safety.probe_interval, abortIfDownForMs: safety.abort_if_down_for }])).then((trip) => {
    if (!trip) return;
    run.breakerReason = `circuit breaker: ${recovery.probe} down for ${Math.round(trip.down_for_ms / 1000)} s (> abort_if_down_for ${safety.abort_if_down_for} ms): ${trip.last_error}`;
    run.scope.cancel();
  }, () => { /* cancelled with the load phase, or the probe itself failed: the run goes on */ });
  return scope;
}

/** 5. Recovery: from the last revert to the first healthy probe and the first success. */
async function measureRecovery(run: Run, load: LoadPhase): Promise<RecoveryResult | null> {
  run.live.enter('recovery');
  const measured = await load.recovery;
  load.breaker.cancel();
  if (!measured) return null;
  const revertedAt = run.faults.lastRevertAt;
  const firstAck = run.live.firstAckAfterRevertAt;
  if (!measured.recovered) run.failures.push(`system did not recover within ${run.scenario.recovery.timeout} ms: ${measured.last_error ?? 'unhealthy'}`);
  return {
    recovered: measured.recovered,
    time_to_healthy_ms: measured.time_to_healthy_ms,
    time_to_first_success_ms: run.scenario.recovery.business ? measured.time_to_first_success_ms
      : firstAck !== null && revertedAt !== null ? firstAck - revertedAt : null,
  };
}

/** The thresholds, judged on steady state: the excluded windows (excluded.ts) are left out. */
async function judgeLoad(run: Run, load: LoadPhase): Promise<LoadSummary> {
  const s = run.scenario;
  const excluded = excludedWindows({
    loadStartedAt: load.startedAt, settleMs: s.load.thresholds.settle, recovery: run.findings.recovery, faults: run.faults.records,
  });
  const summary = await acts.summarizeLoad.executeWithOptions({
    summary: `merge ${load.shardResults.length} shard histograms and timelines; judge thresholds (${s.load.thresholds.scope})`,
  }, [load.shardResults, s.load, excluded]);
  for (const t of summary.thresholds.filter((x) => !x.ok)) run.failures.push(`threshold ${t.name} broken: ${t.reason}`);
  // Harness gaps (the shard results carry them; summarizeLoad left them out): named in the reasons.
  run.notes.push(...(summary.harness_gaps ?? []).map((g) => `${g.why}; load seconds ${g.from_s}-${g.to_s} left out of the thresholds`));
  const races = summary.mismatches;
  if (races.length > 0) {
    run.failures.push(`load: ${races.length} idempotency ${races.length === 1 ? 'race was' : 'races were'} answered with different payments, e.g. ${races[0]!.message_id}`);
  }
  return summary;
}

/**
 * 6. Redelivery: every entry without a definitive answer, with its original idempotency
 * key. An entry the system still did not acknowledge is its failure, said in words.
 */
async function redeliver({ live, load, runId, failures, scenario: s }: Run): Promise<Findings['redelivery']> {
  live.enter('redelivery');
  const r = await load.redeliverUnacknowledged.executeWithOptions({
    summary: 'redeliver unacknowledged entries (same idempotency keys)', startToCloseTimeout: s.redelivery.timeout + 60_000,
  }, [{ runId, settings: s.load, ledger: s.ledger, deadlineMs: s.redelivery.timeout }]);
  const failure = redeliveryFailure(r, { timeoutMs: s.load.timeout, deadlineMs: s.redelivery.timeout });
  if (failure) failures.push(failure);
  return redeliverySummary(r, { timeoutMs: s.load.timeout });
}

/** 7. Drain asynchronous pipelines (a deadline that passes is a note: reconciliation shows what it means). */
async function drain({ live, notes, scenario: s }: Run, timeoutMs = s.drain.timeout): Promise<Findings['drain']> {
  const groups = s.drain.groups.join(', ');
  live.enter('drain', groups || 'nothing to drain');
  const d = await acts.drainPipelines.executeWithOptions({
    summary: `drain: consumer lag 0 for ${groups || '(no groups)'} within ${timeoutMs} ms`, startToCloseTimeout: timeoutMs + 60_000,
  }, [{ ...(s.drain.brokers ? { brokers: s.drain.brokers } : {}), groups: s.drain.groups, timeoutMs }]);
  if (!d.lag_zero) notes.push(`drain deadline passed with lag ${JSON.stringify(d.lag)}${d.error ? ` (${d.error})` : ''}; reconciling anyway`);
  return { lag_zero: d.lag_zero, waited_ms: d.waited_ms };
}

/** 8. Reconcile ground truth against every system of record. */
async function reconcile({ live, failures, runId, scenario: s }: Run): Promise<ReconcileResult> {
  live.enter('reconcile', s.reconcile.map((r) => r.source).join(', '));
  const result = await acts.reconcile.executeWithOptions({
    summary: `reconcile ${s.ledger.messages} entries against ${s.reconcile.map((r) => r.name ?? r.source).join(', ') || 'no sources'}`,
  }, [{ runId, ledger: s.ledger, sources: s.reconcile }]);
  failures.push(...result.failures);
  return result;
}

/**
 * A run cut short, its faults reverted: once the load shards stopped and flushed their
 * outcomes, the system recovered and its pipelines settled and drained (each bounded),
 * reconcile what was acknowledged (bounded). Without recovery there is no partial
 * proof: an asynchronous system of record still catching up would read as losses.
 */
async function partialProof(run: Run): Promise<{ why: string | null; neverSent: number }> {
  const { live, failures, notes, runId, scenario: s } = run;
  const shards = await run.loadSettled ?? [];
  const neverSent = shards.every((r) => r.status === 'fulfilled')
    ? shards.reduce((sum, r) => sum + r.value.counts.dropped, 0) : progressTotals(live.progress.values()).dropped;
  if (run.faults.records.length > 0) {
    live.enter('recovery', 'before the partial proof');
    const timeoutMs = Math.min(s.recovery.timeout, PARTIAL_PROOF_RECOVERY_MS);
    const measured = await acts.awaitRecovery.executeWithOptions({ summary: `partial proof: wait for ${s.recovery.probe}`, startToCloseTimeout: timeoutMs + 60_000 },
      [{ probe: s.recovery.probe, since: run.faults.lastRevertAt ?? Date.now(), timeoutMs, intervalMs: s.recovery.interval }])
      .catch((err: unknown) => ({ recovered: false, last_error: messageOf(err) }));
    if (!measured.recovered) {
      const why = `the system did not recover within ${timeoutMs} ms of the revert (${measured.last_error ?? 'unhealthy'})`;
      notes.push(`no partial proof: ${why}`);
      return { why, neverSent };
    }
  }
  await sleep(s.load.thresholds.settle, { summary: `partial proof: let asynchronous pipelines settle for ${s.load.thresholds.settle} ms` });
  try {
    run.findings.drain = await drain(run, Math.min(s.drain.timeout, PARTIAL_PROOF_DRAIN_MS));
  } catch (err) {
    notes.push(`partial proof: drain failed (${messageOf(err)}); reconciling anyway`);
  }
  live.enter('reconcile', 'partial proof: what was acknowledged');
  try {
    const result = await acts.reconcilePartial.executeWithOptions({
      summary: `partial proof: reconcile the acknowledged entries against ${s.reconcile.map((r) => r.name ?? r.source).join(', ')}`,
    }, [{ runId, ledger: s.ledger, sources: s.reconcile, scope: 'acknowledged' }]);
    run.findings.reconcile = result;
    failures.push(...result.failures.map((f) => `partial proof: ${f}`));
    return { why: null, neverSent };
  } catch (err) {
    const why = `the systems of record did not answer in time (${messageOf(err)})`;
    notes.push(`no partial proof: ${why}`);
    return { why, neverSent };
  }
}

/** 9. Reports (JSON, HTML, JUnit) and the verdict search attribute. A report that cannot be written is a reason, not an error. */
async function writeReport(run: Run, verdict: ExperimentReport['verdict'], reasons: string[]): Promise<ExperimentResult> {
  const { live, findings } = run;
  live.enter('report');
  const ledger = findings.ledger;
  const report: ExperimentReport = {
    run_id: run.runId,
    workflow_id: run.workflowId,
    scenario: run.scenario.name,
    verdict,
    reasons,
    started_at: new Date(live.startedAt).toISOString(),
    ended_at: new Date(Date.now()).toISOString(),
    phases: live.phases,
    ledger: ledger ? { count: ledger.count, seed: ledger.seed, totals_by_currency: ledger.totalsByCurrency, json_path: ledger.jsonPath, csv_path: ledger.csvPath } : null,
    load: findings.load,
    faults: run.faults.records,
    recovery: findings.recovery,
    redelivery: findings.redelivery,
    drain: findings.drain,
    reconcile: findings.reconcile,
    ...(findings.proof ? { proof: findings.proof } : {}),
  };
  let paths: ReportPaths | null = null;
  try {
    paths = await acts.writeReports.executeWithOptions({ summary: `write reports (JSON, HTML, JUnit): ${verdict}` }, [report]);
  } catch (err) {
    reasons.push(`writing reports failed: ${messageOf(err)}`);
  }
  // Notifications (docs/observability.md): a failed one is a note in the report, never another verdict.
  if ((run.scenario.notify ?? []).length > 0) {
    const n = await acts.notifyRun.executeWithOptions({ summary: `notify ${run.scenario.notify.length} target(s): ${verdict}` },
      [{ report, paths, targets: run.scenario.notify }]).catch((err: unknown) => ({ results: [], notes: [`notifications failed: ${messageOf(err)}; the verdict stands`] }));
    reasons.push(...n.notes);
    if (n.results.length > 0) report.notifications = n.results;
  }
  upsertSearchAttributes([{ key: OrdealVerdict, value: verdict }]);
  live.enter('done', verdict);
  live.phases[live.phases.length - 1]!.ended_at = new Date(Date.now()).toISOString();
  return { run_id: run.runId, workflow_id: run.workflowId, scenario: run.scenario.name, verdict, reasons, report, paths };
}

// ---- timing --------------------------------------------------------------------
function loadDurationMs(s: Scenario): number {
  const stages = (s.load.stages ?? []).reduce((sum, stage) => sum + stage.duration, 0);
  return Math.max(s.load.duration ?? 0, stages);
}

function faultWindowEndMs(s: Scenario): number {
  return s.faults.reduce((end, f) => Math.max(end, f.at + Math.min(f.duration, s.safety.max_fault_duration)), 0);
}

/** Default overall deadline: every phase's own bound, plus slack for worker restarts. */
function defaultDeadlineMs(s: Scenario): number {
  return s.steady_state.timeout + Math.max(loadDurationMs(s), faultWindowEndMs(s)) + s.recovery.timeout
    + s.redelivery.timeout + s.drain.timeout + 30 * 60_000;
}

function defaultRunId(): string {
  // uuid4() is deterministic in workflow code (seeded by the run), so replays agree.
  return `r${uuid4().replace(/-/g, '').slice(0, 11)}`;
}
