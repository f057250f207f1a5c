// The chaos experiment: one durable workflow per run. Every side effect is an
// activity; this file only decides what happens when, and guarantees that every
// injected fault is reverted whatever happens (success, failure, abort signal,
// cancellation from the Web UI, circuit breaker, deadline, worker crash).
import {
  ActivityFailure, ApplicationFailure, CancellationScope, defineQuery, defineSignal, isCancellation,
  proxyActivities, setCurrentDetails, setHandler, sleep, upsertSearchAttributes, uuid4, workflowInfo,
} from '@temporalio/workflow';
import type { FaultSpec } from '../activities/faults/types.ts';
import type { LedgerRef } from '../activities/ledger/types.ts';
import type { ExcludedWindow, LoadShardResult, LoadSummary } from '../activities/load/types.ts';
import type { ReconcileResult } from '../activities/reconcile/types.ts';
import type { ExperimentReport, FaultRecord, Phase, RecoveryResult, ReportPaths, Verdict } from '../activities/report/types.ts';
import type { Scenario } from '../activities/scenario/schema.ts';
import { planLoadShards } from '../activities/load/plan.ts';
import type {
  DrainActivities, FaultActivities, LedgerActivities, LoadActivities, NotifyActivities, ProbeActivities, ReconcileActivities, ReportActivities,
  ScenarioActivities,
} from './phases.ts';
import {
  LOAD_TASK_QUEUE, OrdealRunId, OrdealScenario, OrdealVerdict,
  type AbortRequest, type ActiveFault, type ExperimentInput, type ExperimentResult, type ExperimentStatus, type LoadProgress,
} from './types.ts';

// ---- signals and queries -------------------------------------------------------
export const abortSignal = defineSignal<[AbortRequest]>('abort');
export const loadProgressSignal = defineSignal<[LoadProgress]>('loadProgress');
export const statusQuery = defineQuery<ExperimentStatus>('status');

// ---- activities, per phase, each with timeouts that fit what it does ------------
const scenarioActs = proxyActivities<ScenarioActivities>({
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 3, nonRetryableErrorTypes: ['InvalidScenario'] },
});
const ledgerActs = proxyActivities<LedgerActivities>({
  startToCloseTimeout: '15m', heartbeatTimeout: '60s',
  retry: { initialInterval: '1s', maximumInterval: '15s', maximumAttempts: 10 },
});
const probeActs = proxyActivities<ProbeActivities>({
  startToCloseTimeout: '30m', heartbeatTimeout: '15s',
  retry: { initialInterval: '1s', maximumInterval: '5s', nonRetryableErrorTypes: ['SteadyStateNotReached'] },
});
const drainActs = proxyActivities<DrainActivities>({
  startToCloseTimeout: '30m', heartbeatTimeout: '30s',
  retry: { initialInterval: '1s', maximumInterval: '10s', maximumAttempts: 10 },
});
// Inject and revert are short; a crashed worker is noticed after startToClose and the
// call retried on another worker (both are idempotent by contract).
const faultActs = proxyActivities<FaultActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 3 },
});
const revertActs = proxyActivities<FaultActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 8 },
});
const evidenceActs = proxyActivities<FaultActivities>({ startToCloseTimeout: '15s', retry: { maximumAttempts: 2 } });
const reconcileActs = proxyActivities<ReconcileActivities>({
  startToCloseTimeout: '30m', heartbeatTimeout: '2m',
  retry: { initialInterval: '1s', maximumInterval: '15s', maximumAttempts: 10 },
});
const reportActs = proxyActivities<ReportActivities>({ startToCloseTimeout: '5m', retry: { maximumAttempts: 5 } });
// Delivery retries happen inside the activity, per target; a retry of the whole activity would page twice.
const notifyActs = proxyActivities<NotifyActivities>({ startToCloseTimeout: '5m', retry: { maximumAttempts: 1 } });
const loadSummaryActs = proxyActivities<LoadActivities>({ startToCloseTimeout: '2m', retry: { maximumAttempts: 5 } });
// Load shards and redelivery run on the load task queue, wherever load workers are.
const loadActs = proxyActivities<LoadActivities>({ taskQueue: LOAD_TASK_QUEUE, startToCloseTimeout: '1h', heartbeatTimeout: '20s' });

// ---- helpers -------------------------------------------------------------------
const LEASE_GRACE_MS = 60_000;
const iso = (ms: number) => new Date(ms).toISOString();
const message = (err: unknown): string => {
  if (err instanceof ActivityFailure && err.cause) return message(err.cause);
  return err instanceof Error ? err.message : String(err);
};

function loadDurationMs(s: Scenario): number {
  const stages = (s.load.stages ?? []).reduce((sum, st) => sum + st.duration, 0);
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

// ---- the workflow --------------------------------------------------------------
export async function chaosExperiment(input: ExperimentInput): Promise<ExperimentResult> {
  const info = workflowInfo();
  const runId = input.runId ?? defaultRunId();
  const startedAt = Date.now();
  let scenario: Scenario | null = null;
  let phase: Phase = 'validating';
  const phases: ExperimentReport['phases'] = [];
  const enter = (p: Phase, details?: string) => {
    const now = iso(Date.now());
    const open = phases[phases.length - 1];
    if (open && open.ended_at === null) open.ended_at = now;
    phases.push({ phase: p, started_at: now, ended_at: null });
    phase = p;
    setCurrentDetails(`**${p}**${details ? ` — ${details}` : ''} (run ${runId})`);
  };
  enter('validating');

  // Live state for the status query.
  const progress = new Map<number, LoadProgress>();
  let plannedShards = 0;
  const faults: FaultRecord[] = [];
  const active: FaultRecord[] = []; // injected and not yet reverted, in injection order
  const revertDue = new Map<string, number>();
  let abortReason: string | null = null;
  let verdict: Verdict | null = null;
  let lastRevertAt: number | null = null;
  let ackedAtLastRevert = 0;
  let firstAckAfterRevertAt: number | null = null;

  const totals = () => {
    let sent = 0, requests = 0, acked = 0, failed = 0, unknown = 0, dropped = 0, retries = 0, rate = 0, p99 = 0;
    for (const p of progress.values()) {
      sent += p.counts.sent; requests += p.counts.requests; acked += p.counts.acked; failed += p.counts.failed;
      unknown += p.counts.unknown; dropped += p.counts.dropped; retries += p.counts.retries; rate += p.rate; p99 = Math.max(p99, p.p99_ms);
    }
    return { sent, requests, acked, failed, unknown, dropped, retries, rate, p99 };
  };

  // When the load phase was cut short there are no shard results to merge: the
  // partial report carries the last progress the shards signalled.
  const partialLoad = (): LoadSummary => {
    const t = totals();
    const errorsByClass: Record<string, number> = {};
    let late = 0, dropped = 0;
    for (const p of progress.values()) {
      late += p.counts.late; dropped += p.counts.dropped;
      for (const [k, v] of Object.entries(p.counts.errorsByClass)) errorsByClass[k] = (errorsByClass[k] ?? 0) + v;
    }
    const lat = { p50: 0, p95: 0, p99: t.p99, max: t.p99, mean: 0 };
    return {
      counts: { sent: t.sent, requests: t.requests, acked: t.acked, failed: t.failed, unknown: t.unknown, late, dropped, retries: t.retries, errorsByClass },
      latency_ms: lat, latency_uncorrected_ms: lat, achieved_rate: t.rate, error_rate: t.sent ? (t.failed + t.unknown) / t.sent : 0,
      timeline: [], thresholds: [], thresholdsOk: true, mismatches: [], workers: [], cancelled: true,
    };
  };

  setHandler(statusQuery, (): ExperimentStatus => {
    const t = totals();
    return {
      run_id: runId,
      scenario: scenario?.name ?? null,
      phase,
      elapsed_ms: Date.now() - startedAt,
      started_at: iso(startedAt),
      sent: t.sent, acked: t.acked, failed: t.failed, unacknowledged: t.unknown, never_sent: t.dropped,
      rate: Math.round(t.rate), p99_ms: t.p99,
      active_faults: active.map((r): ActiveFault => ({
        faultId: r.handle.faultId, type: r.handle.type, target: r.handle.target, injected_at: r.handle.injectedAt,
        revert_due_at: iso(revertDue.get(r.handle.faultId) ?? Date.now()),
      })),
      verdict,
      abort_reason: abortReason,
      shards: { reporting: progress.size, planned: plannedShards },
    };
  });

  // The body runs in its own scope so that abort, the breaker and the deadline can
  // cancel it; UI cancellation cancels the root scope, which reaches it too.
  const runScope = new CancellationScope();
  setHandler(abortSignal, ({ reason }) => {
    abortReason ??= `aborted: ${reason || 'no reason given'}`;
    runScope.cancel();
  });
  setHandler(loadProgressSignal, (p) => {
    progress.set(p.shard, p);
    if (lastRevertAt !== null && firstAckAfterRevertAt === null && totals().acked > ackedAtLastRevert) {
      firstAckAfterRevertAt = Date.now();
    }
  });

  upsertSearchAttributes([{ key: OrdealRunId, value: runId }]);

  // 1. Resolve + validate. A bad scenario fails the workflow, non-retryable, before anything is touched.
  try {
    const resolved = await scenarioActs.resolveScenario.executeWithOptions(
      { summary: `resolve + validate scenario ${typeof input.scenario === 'string' ? input.scenario : 'inline'}`, startToCloseTimeout: '30s',
        retry: { maximumAttempts: 3, nonRetryableErrorTypes: ['InvalidScenario'] } },
      [{ scenario: input.scenario, overrides: input.overrides ?? [] }]);
    scenario = resolved.scenario;
  } catch (err) {
    upsertSearchAttributes([{ key: OrdealVerdict, value: 'ERROR' },
      { key: OrdealScenario, value: typeof input.scenario === 'string' ? input.scenario : 'inline' }]);
    const cause = err instanceof ActivityFailure ? err.cause : err;
    if (cause instanceof ApplicationFailure && cause.type === 'InvalidScenario') {
      throw ApplicationFailure.create({ type: 'InvalidScenario', nonRetryable: true, message: cause.message, details: cause.details as unknown[] });
    }
    throw ApplicationFailure.create({ type: 'ScenarioResolutionFailed', nonRetryable: true, message: message(err) });
  }
  const s: Scenario = scenario;
  upsertSearchAttributes([{ key: OrdealScenario, value: s.name }]);

  // failures make the verdict FAIL; notes are context (capped faults, slow drains).
  const failures: string[] = [];
  const notes: string[] = [];
  let ledger: LedgerRef | null = null;
  let load: LoadSummary | null = null;
  let recovery: RecoveryResult | null = null;
  let redelivery: ExperimentReport['redelivery'] = null;
  let drained: ExperimentReport['drain'] = null;
  let reconciled: ReconcileResult | null = null;
  let breakerReason: string | null = null;
  let errorReason: string | null = null;
  let loadStartedAt = 0;
  const timelines: Promise<void>[] = [];

  // Revert one fault; records the outcome, never throws (a failed revert makes the
  // verdict ERROR and names the fault). Safe to call twice: the second is a no-op.
  const revert = async (rec: FaultRecord, why: string): Promise<void> => {
    if (rec.revert !== null) return;
    try {
      const r = await revertActs.revertFault.executeWithOptions({
        summary: `revert ${rec.handle.type} on ${rec.handle.target} (${why})`, startToCloseTimeout: '30s',
        retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 8 },
      }, [rec.handle]);
      rec.revert = r;
      if (!r.reverted && !r.alreadyReverted) {
        failures.push(`revert of fault ${rec.handle.faultId} (${rec.handle.type} on ${rec.handle.target}) failed: ${r.error ?? 'not reverted'}; it may still be active`);
      }
    } catch (err) {
      rec.revert = { faultId: rec.handle.faultId, reverted: false, alreadyReverted: false, error: message(err) };
      failures.push(`revert of fault ${rec.handle.faultId} (${rec.handle.type} on ${rec.handle.target}) failed: ${message(err)}; it may still be active (its lease expires at ${rec.handle.leaseExpiresAt})`);
    }
    rec.revertedAtS = loadStartedAt ? (Date.now() - loadStartedAt) / 1000 : 0;
    const at = active.indexOf(rec);
    if (at >= 0) active.splice(at, 1);
    lastRevertAt = Date.now();
    ackedAtLastRevert = totals().acked;
    firstAckAfterRevertAt = null;
  };

  // Heal every still-active fault, last injected first.
  const revertAll = async (why: string) => {
    while (active.length > 0) await revert(active[active.length - 1]!, why);
  };

  const faultTimeline = async (spec: FaultSpec, index: number): Promise<void> => {
    await sleep(spec.at, { summary: `fault ${index} (${spec.type} on ${spec.target}) starts at +${spec.at} ms` });
    const effective = Math.min(spec.duration, s.safety.max_fault_duration);
    if (effective < spec.duration) {
      notes.push(`fault ${index} (${spec.type} on ${spec.target}) capped at max_fault_duration ${s.safety.max_fault_duration} ms`);
    }
    // Injection may not be interrupted halfway: once it started, we must learn the handle to revert it.
    const handle = await CancellationScope.nonCancellable(() => faultActs.injectFault.executeWithOptions({
      summary: `inject ${spec.type} on ${spec.target} for ${effective} ms`, startToCloseTimeout: '30s',
      retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 3 },
    }, [{ runId, spec: { ...spec, duration: effective }, leaseMs: effective + LEASE_GRACE_MS }])).catch((err: unknown) => {
      throw ApplicationFailure.create({ type: 'FaultInjectionFailed', nonRetryable: true,
        message: `injecting fault ${index} (${spec.type} on ${spec.target}) failed: ${message(err)}` });
    });
    // When the injection began (the activity stamps it as it starts applying the fault),
    // not when the workflow heard back: a database kill's activity also waits ~1.5 s for
    // the killed processes to be reaped, and the report placed the fault that much late.
    const rec: FaultRecord = { handle, evidence: [], revert: null, injectedAtS: (Date.parse(handle.injectedAt) - loadStartedAt) / 1000, revertedAtS: null };
    faults.push(rec);
    active.push(rec);
    revertDue.set(handle.faultId, Date.now() + effective);
    setCurrentDetails(`**load** — ${spec.type} on ${spec.target} active (run ${runId})`);
    try {
      rec.evidence.push(...await evidenceActs.faultEvidence.executeWithOptions(
        { summary: `evidence: ${spec.type} on ${spec.target} in effect?`, startToCloseTimeout: '15s', retry: { maximumAttempts: 2 } }, [handle]));
    } catch (err) {
      if (isCancellation(err)) throw err;
      rec.evidence.push({ faultId: handle.faultId, observedAt: iso(Date.now()), description: `evidence unavailable: ${message(err)}`, ok: false });
    }
    const elapsed = Date.now() - Date.parse(handle.injectedAt);
    await sleep(Math.max(1, effective - Math.max(0, elapsed)), { summary: `hold ${spec.type} on ${spec.target}` });
    await CancellationScope.nonCancellable(() => revert(rec, 'fault duration elapsed'));
  };

  const body = async (): Promise<void> => {
    // 2. Ground truth, persisted before anything is sent.
    enter('generating-ledger', `${s.ledger.messages} entries`);
    ledger = await ledgerActs.generateLedger.executeWithOptions({
      summary: `generate ledger: ${s.ledger.messages} entries, seed ${s.ledger.seed}`,
      startToCloseTimeout: '15m', heartbeatTimeout: '60s', retry: { initialInterval: '1s', maximumInterval: '15s', maximumAttempts: 10 },
    }, [{ runId, spec: s.ledger }]);

    // 3. Steady state: the system is healthy before we start.
    enter('steady-state');
    const steadyUrl = s.steady_state.probe ?? s.recovery.probe;
    await probeActs.checkSteadyState.executeWithOptions({
      summary: `steady state: ${steadyUrl} healthy ${s.steady_state.healthy_probes}x in a row`,
      startToCloseTimeout: s.steady_state.timeout + 30_000, heartbeatTimeout: '15s',
      retry: { maximumAttempts: 3, nonRetryableErrorTypes: ['SteadyStateNotReached'] },
    }, [{ url: steadyUrl, timeoutMs: s.steady_state.timeout, healthyProbes: s.steady_state.healthy_probes, intervalMs: s.recovery.interval }]);

    // 4. Load, concurrent with the fault timeline and watched by the circuit breaker.
    enter('load', `${s.load.executor} ${s.load.rate ?? ''}${s.load.rate ? ' req/s' : ''}`);
    loadStartedAt = Date.now();
    const breakerScope = new CancellationScope();
    const breaker = breakerScope.run(() => probeActs.watchHealth.executeWithOptions({
      summary: `circuit breaker: abort if ${s.recovery.probe} is down for ${s.safety.abort_if_down_for} ms`,
      startToCloseTimeout: '24h', heartbeatTimeout: Math.max(15_000, 3 * s.safety.probe_interval),
      retry: { initialInterval: '1s', maximumInterval: '5s' },
    }, [{ url: s.recovery.probe, intervalMs: s.safety.probe_interval, abortIfDownForMs: s.safety.abort_if_down_for }]));
    breaker.then((trip) => {
      if (trip) {
        breakerReason = `circuit breaker: ${s.recovery.probe} down for ${Math.round(trip.down_for_ms / 1000)} s (> abort_if_down_for ${s.safety.abort_if_down_for} ms): ${trip.last_error}`;
        runScope.cancel();
      }
    }, () => { /* cancelled with the load phase, or the probe itself failed: the run goes on */ });

    const shards = planLoadShards(runId, s.load, s.ledger);
    plannedShards = shards.length;
    const loadMs = loadDurationMs(s);
    // Retries resume from heartbeat progress (the load engine's contract), never re-sending acked entries.
    const loadP = Promise.all(shards.map((shard) => loadActs.runLoadShard.executeWithOptions({
      summary: `load shard ${shard.shard + 1}/${shard.shards}: ledger [${shard.from}, ${shard.to})`,
      taskQueue: input.loadTaskQueue ?? LOAD_TASK_QUEUE, startToCloseTimeout: loadMs + 15 * 60_000, heartbeatTimeout: '20s',
      retry: { initialInterval: '1s', maximumInterval: '10s', nonRetryableErrorTypes: ['InvalidLoadSettings'] },
    }, [{ ...shard, scenario: s.name, progress: { workflowId: info.workflowId } }])));
    s.faults.forEach((f, i) => timelines.push(faultTimeline(f, i)));
    const faultsDone = Promise.all(timelines);

    // Time to recovery is measured from the last revert, while load may still be running.
    const recoveryP = s.faults.length === 0 ? Promise.resolve(null) : faultsDone.then(() => probeActs.awaitRecovery.executeWithOptions({
      summary: `time to recovery: ${s.recovery.probe}${s.recovery.business ? ` then ${s.recovery.business.url}` : ''}`,
      startToCloseTimeout: s.recovery.timeout + 60_000, heartbeatTimeout: '15s', retry: { maximumAttempts: 3 },
    }, [{ probe: s.recovery.probe, since: lastRevertAt ?? Date.now(), timeoutMs: s.recovery.timeout, intervalMs: s.recovery.interval,
      ...(s.recovery.business ? { business: { ...s.recovery.business } } : {}) }]));
    recoveryP.catch(() => { /* awaited below */ });

    const [results] = await Promise.all([loadP, faultsDone]) as [LoadShardResult[], void[]];
    // With a fault possibly still in effect, recovery and reconciliation would measure the fault, not the system.
    const stuck = faults.find((f) => f.revert !== null && !f.revert.reverted && !f.revert.alreadyReverted);
    if (stuck) {
      throw ApplicationFailure.create({ type: 'RevertFailed', nonRetryable: true,
        message: `fault ${stuck.handle.faultId} (${stuck.handle.type} on ${stuck.handle.target}) could not be reverted; later phases skipped` });
    }

    // 5. Recovery.
    enter('recovery');
    const measured = await recoveryP;
    if (measured) {
      const loadDerived = firstAckAfterRevertAt !== null && lastRevertAt !== null ? firstAckAfterRevertAt - lastRevertAt : null;
      recovery = {
        recovered: measured.recovered,
        time_to_healthy_ms: measured.time_to_healthy_ms,
        time_to_first_success_ms: s.recovery.business ? measured.time_to_first_success_ms : loadDerived,
      };
      if (!measured.recovered) failures.push(`system did not recover within ${s.recovery.timeout} ms: ${measured.last_error ?? 'unhealthy'}`);
    }
    breakerScope.cancel();
    // Steady-state thresholds leave out each fault from a second before its injection
    // (requests in flight when it struck) to the end of recovery plus settling.
    // Not recovered (or never reverted): disturbed to the end of the phase.
    const rec: RecoveryResult | null = recovery;
    const recoveryMs = rec === null ? 0 : Math.max(rec.time_to_healthy_ms ?? 0, rec.time_to_first_success_ms ?? 0);
    const excluded: ExcludedWindow[] = faults.map((f) => ({
      fromMs: Date.parse(f.handle.injectedAt) - 1000,
      toMs: f.revertedAtS === null || (rec !== null && !rec.recovered) ? Number.MAX_SAFE_INTEGER
        : loadStartedAt + f.revertedAtS * 1000 + recoveryMs + s.load.thresholds.settle,
      why: `${f.handle.type} on ${f.handle.target}: fault, recovery and ${s.load.thresholds.settle / 1000} s settling`,
    }));
    load = await loadSummaryActs.summarizeLoad.executeWithOptions(
      { summary: `merge ${results.length} shard histograms and timelines; judge thresholds (${s.load.thresholds.scope})`,
        startToCloseTimeout: '2m', retry: { maximumAttempts: 5 } },
      [results, s.load, excluded]);
    for (const t of load.thresholds.filter((x) => !x.ok)) failures.push(`threshold ${t.name} broken: ${t.reason}`);
    if (load.mismatches.length > 0) {
      failures.push(`load: ${load.mismatches.length} idempotency ${load.mismatches.length === 1 ? 'race was' : 'races were'} answered with different payments, e.g. ${load.mismatches[0]!.message_id}`);
    }

    // 6. Redelivery: every entry without a definitive answer, with its original idempotency key.
    enter('redelivery');
    const redelivered = await loadActs.redeliverUnacknowledged.executeWithOptions({
        summary: `redeliver unacknowledged entries (same idempotency keys)`, taskQueue: input.loadTaskQueue ?? LOAD_TASK_QUEUE,
        startToCloseTimeout: s.redelivery.timeout + 60_000, heartbeatTimeout: '30s', retry: { initialInterval: '1s', maximumInterval: '10s', maximumAttempts: 5 },
      }, [{ runId, settings: s.load, ledger: s.ledger, deadlineMs: s.redelivery.timeout }]);
    redelivery = { resent: redelivered.resent, acked: redelivered.acked, still_unacknowledged: redelivered.stillUnacknowledged };

    // 7. Drain asynchronous pipelines.
    enter('drain', s.drain.groups.join(', ') || 'nothing to drain');
    const d = await drainActs.drainPipelines.executeWithOptions({
      summary: `drain: consumer lag 0 for ${s.drain.groups.join(', ') || '(no groups)'} within ${s.drain.timeout} ms`,
      startToCloseTimeout: s.drain.timeout + 60_000, heartbeatTimeout: '30s', retry: { maximumAttempts: 5 },
    }, [{ ...(s.drain.brokers ? { brokers: s.drain.brokers } : {}), groups: s.drain.groups, timeoutMs: s.drain.timeout }]);
    drained = { lag_zero: d.lag_zero, waited_ms: d.waited_ms };
    if (!d.lag_zero) notes.push(`drain deadline passed with lag ${JSON.stringify(d.lag)}${d.error ? ` (${d.error})` : ''}; reconciling anyway`);

    // 8. Reconcile ground truth against every system of record.
    enter('reconcile', s.reconcile.map((r) => r.source).join(', '));
    reconciled = await reconcileActs.reconcile.executeWithOptions({
      summary: `reconcile ${s.ledger.messages} entries against ${s.reconcile.map((r) => r.name ?? r.source).join(', ') || 'no sources'}`,
      startToCloseTimeout: '30m', retry: { initialInterval: '1s', maximumInterval: '15s', maximumAttempts: 10 },
    }, [{ runId, ledger: s.ledger, sources: s.reconcile }]);
    failures.push(...reconciled.failures);
  };

  // Overall deadline: a workflow timer, so it holds across worker crashes.
  const deadlineMs = s.safety.deadline ?? defaultDeadlineMs(s);
  let deadlineHit = false;
  const deadlineScope = new CancellationScope();
  deadlineScope.run(() => sleep(deadlineMs, { summary: `overall deadline ${Math.round(deadlineMs / 1000)} s` })).then(() => {
    deadlineHit = true;
    runScope.cancel();
  }, () => { /* run finished first */ });

  let cancelled = false;
  try {
    await runScope.run(body);
  } catch (err) {
    if (isCancellation(err)) cancelled = true;
    else errorReason = `${phase} failed: ${message(err)}`;
  }
  deadlineScope.cancel();

  // Whatever happened: stop the stragglers, let in-flight injections land, heal LIFO,
  // and write what we know — all of it immune to cancellation.
  return CancellationScope.nonCancellable(async () => {
    runScope.cancel();
    await Promise.allSettled(timelines);
    if (active.length > 0) enter(phase, 'reverting faults');
    await revertAll(cancelled ? 'experiment stopped' : 'experiment ended');

    const revertFailed = faults.some((f) => f.revert !== null && !f.revert.reverted && !f.revert.alreadyReverted);
    if (cancelled) {
      abortReason ??= breakerReason ?? (deadlineHit ? `overall deadline of ${deadlineMs} ms passed` : 'cancelled (workflow cancellation requested, e.g. from the Temporal UI)');
    }
    const rc = reconciled as ReconcileResult | null;
    if (!cancelled && !errorReason && rc && !rc.exactlyOnce && failures.length === 0) failures.push('reconciliation: exactly-once does not hold');
    verdict = revertFailed || errorReason ? 'ERROR'
      : cancelled ? 'ABORTED'
        : failures.length > 0 || !rc ? 'FAIL' : 'PASS';
    const reasons = [...(errorReason ? [errorReason] : []), ...(abortReason && cancelled ? [abortReason] : []), ...failures, ...notes];
    if (!load && progress.size > 0) load = partialLoad();

    enter('report');
    const endedAt = Date.now();
    const l = ledger as LedgerRef | null;
    const report: ExperimentReport = {
      run_id: runId,
      workflow_id: info.workflowId,
      scenario: s.name,
      verdict,
      reasons,
      started_at: iso(startedAt),
      ended_at: iso(endedAt),
      phases,
      ledger: l ? { count: l.count, seed: l.seed, totals_by_currency: l.totalsByCurrency, json_path: l.jsonPath, csv_path: l.csvPath } : null,
      load,
      faults,
      recovery,
      redelivery,
      drain: drained,
      reconcile: reconciled,
    };
    let paths: ReportPaths | null = null;
    try {
      paths = await reportActs.writeReports.executeWithOptions(
        { summary: `write reports (JSON, HTML, JUnit): ${verdict}`, startToCloseTimeout: '5m', retry: { maximumAttempts: 5 } }, [report]);
    } catch (err) {
      reasons.push(`writing reports failed: ${message(err)}`);
    }
    // Notifications (docs/observability.md): a failed one is a note in the report, never another verdict.
    if ((s.notify ?? []).length > 0) {
      const n = await notifyActs.notifyRun({ report, paths, targets: s.notify })
        .catch((err: unknown) => ({ results: [], notes: [`notifications failed: ${message(err)}; the verdict stands`] }));
      reasons.push(...n.notes);
      if (n.results.length > 0) report.notifications = n.results;
    }
    upsertSearchAttributes([{ key: OrdealVerdict, value: verdict }]);
    enter('done', verdict);
    phases[phases.length - 1]!.ended_at = iso(Date.now());
    return { run_id: runId, workflow_id: info.workflowId, scenario: s.name, verdict, reasons, report, paths };
  });
}

