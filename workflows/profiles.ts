// Every activity the experiment calls, with its timeouts and retries stated once.
// The SDK deep-merges these options with those a call passes to executeWithOptions,
// so call sites pass only what the run decides: a summary, a timeout computed from
// the scenario, the load task queue. Where a call computes its startToCloseTimeout,
// the value here is only a ceiling that the call always replaces.
import { ActivityCancellationType, proxyActivities } from '@temporalio/workflow';
import type {
  DrainActivities, FaultActivities, LedgerActivities, LoadActivities, NotifyActivities, ProbeActivities, ReconcileActivities,
  ReportActivities, ScenarioActivities,
} from './phases.ts';

export const experimentActivities = {
  resolveScenario: proxyActivities<ScenarioActivities>({
    startToCloseTimeout: '30s', retry: { maximumAttempts: 3, nonRetryableErrorTypes: ['InvalidScenario'] },
  }).resolveScenario,
  generateLedger: proxyActivities<LedgerActivities>({
    startToCloseTimeout: '15m', heartbeatTimeout: '60s', retry: { initialInterval: '1s', maximumInterval: '15s', maximumAttempts: 10 },
  }).generateLedger,
  /** startToClose: the scenario's steady-state timeout + 30 s. */
  checkSteadyState: proxyActivities<ProbeActivities>({
    startToCloseTimeout: '30m', heartbeatTimeout: '15s',
    retry: { initialInterval: '1s', maximumInterval: '5s', maximumAttempts: 3, nonRetryableErrorTypes: ['SteadyStateNotReached'] },
  }).checkSteadyState,
  /** The circuit breaker runs until the load phase ends; heartbeat: 3 probe intervals, at least 15 s. */
  watchHealth: proxyActivities<ProbeActivities>({
    startToCloseTimeout: '24h', heartbeatTimeout: '15s', retry: { initialInterval: '1s', maximumInterval: '5s' },
  }).watchHealth,
  /** startToClose: the scenario's recovery timeout + 60 s. */
  awaitRecovery: proxyActivities<ProbeActivities>({
    startToCloseTimeout: '30m', heartbeatTimeout: '15s', retry: { initialInterval: '1s', maximumInterval: '5s', maximumAttempts: 3 },
  }).awaitRecovery,
  // Inject and revert are short; a crashed worker is noticed after startToClose and the
  // call retried on another worker (both are idempotent by contract). A revert tries harder.
  injectFault: proxyActivities<FaultActivities>({
    startToCloseTimeout: '30s', retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 3 },
  }).injectFault,
  revertFault: proxyActivities<FaultActivities>({
    startToCloseTimeout: '30s', retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 8 },
  }).revertFault,
  faultEvidence: proxyActivities<FaultActivities>({ startToCloseTimeout: '15s', retry: { maximumAttempts: 2 } }).faultEvidence,
  // Run proxies (issue 11): created before load, removed after the last revert; both idempotent.
  createRunProxies: proxyActivities<FaultActivities>({ startToCloseTimeout: '30s', retry: { initialInterval: '500ms', maximumAttempts: 5 } }).createRunProxies,
  removeRunProxies: proxyActivities<FaultActivities>({ startToCloseTimeout: '30s', retry: { initialInterval: '500ms', maximumAttempts: 8 } }).removeRunProxies,
  summarizeLoad: proxyActivities<LoadActivities>({ startToCloseTimeout: '2m', retry: { maximumAttempts: 5 } }).summarizeLoad,
  /** startToClose: the scenario's drain timeout + 60 s. */
  drainPipelines: proxyActivities<DrainActivities>({
    startToCloseTimeout: '30m', heartbeatTimeout: '30s', retry: { initialInterval: '1s', maximumInterval: '10s', maximumAttempts: 5 },
  }).drainPipelines,
  reconcile: proxyActivities<ReconcileActivities>({
    startToCloseTimeout: '30m', heartbeatTimeout: '2m', retry: { initialInterval: '1s', maximumInterval: '15s', maximumAttempts: 10 },
  }).reconcile,
  /** A partial proof is bounded: if the systems of record do not answer within this, the run reports none. */
  reconcilePartial: proxyActivities<ReconcileActivities>({
    scheduleToCloseTimeout: '2m', startToCloseTimeout: '90s', heartbeatTimeout: '30s', retry: { initialInterval: '1s', maximumInterval: '5s', maximumAttempts: 3 },
  }).reconcile,
  writeReports: proxyActivities<ReportActivities>({ startToCloseTimeout: '5m', retry: { maximumAttempts: 5 } }).writeReports,
  // Deliveries are retried inside the activity, per target: retrying the whole activity would page twice.
  notifyRun: proxyActivities<NotifyActivities>({ startToCloseTimeout: '5m', retry: { maximumAttempts: 1 } }).notifyRun,
};

/**
 * Load shards and redelivery run on the load task queue, wherever load workers are
 * (the queue is the run's input). Retries resume from heartbeat progress, never
 * re-sending acknowledged entries (the load engine's contract).
 */
export function loadActivitiesOn(taskQueue: string) {
  return {
    /** startToClose: the load phase + 15 min. */
    // A cancelled shard stops within a heartbeat and flushes its outcomes; waiting for
    // that lets a partial proof read every acknowledgement it got.
    runLoadShard: proxyActivities<LoadActivities>({
      taskQueue, startToCloseTimeout: '1h', heartbeatTimeout: '20s', cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
      retry: { initialInterval: '1s', maximumInterval: '10s', nonRetryableErrorTypes: ['InvalidLoadSettings'] },
    }).runLoadShard,
    /** startToClose: the scenario's redelivery timeout + 60 s. */
    redeliverUnacknowledged: proxyActivities<LoadActivities>({
      taskQueue, startToCloseTimeout: '1h', heartbeatTimeout: '30s', retry: { initialInterval: '1s', maximumInterval: '10s', maximumAttempts: 5 },
    }).redeliverUnacknowledged,
  };
}
