// A minimal load phase, as the experiment workflow runs it: plan shards, run them on
// the `ordeal-load` queue in parallel, merge. Test-only (the real workflow lives in
// workflows/); it also counts the loadProgress signals the shards send.
import { ActivityCancellationType, CancellationScope, defineSignal, proxyActivities, setHandler, sleep, workflowInfo } from '@temporalio/workflow';
import type { LoadActivities } from '../../../activities/load/index.ts';
import { planLoadShards } from '../../../activities/load/plan.ts';
import type { LedgerSpec } from '../../../activities/ledger/types.ts';
import type { LoadProgress, LoadSettings, LoadShardResult, LoadSummary } from '../../../activities/load/types.ts';
import { LOAD_PROGRESS_SIGNAL, LOAD_TASK_QUEUE } from '../../../workflows/names.ts';

const { runLoadShard, summarizeLoad } = proxyActivities<LoadActivities>({
  taskQueue: LOAD_TASK_QUEUE,
  startToCloseTimeout: '5m',
  heartbeatTimeout: '3s',
  retry: { initialInterval: '200ms', backoffCoefficient: 1, maximumAttempts: 10 },
});

export const loadProgress = defineSignal<[LoadProgress]>(LOAD_PROGRESS_SIGNAL);

export async function loadPhaseTestWorkflow(input: { runId: string; settings: LoadSettings; ledger: LedgerSpec }):
  Promise<{ summary: LoadSummary; shardWorkers: string[][]; attempts: number[]; progressSignals: number }> {
  let progressSignals = 0;
  setHandler(loadProgress, () => { progressSignals++; });
  const shards = planLoadShards(input.runId, input.settings, input.ledger)
    .map((s) => ({ ...s, progress: { workflowId: workflowInfo().workflowId } }));
  const results = await Promise.all(shards.map((s) => runLoadShard(s)));
  const summary = await summarizeLoad(results, input.settings);
  return { summary, shardWorkers: results.map((r) => r.workers), attempts: results.map((r) => r.attempt), progressSignals };
}

const cancellable = proxyActivities<LoadActivities>({
  taskQueue: LOAD_TASK_QUEUE,
  startToCloseTimeout: '5m',
  heartbeatTimeout: '3s',
  // Wait for the shard to stop and flush: it then returns its partial result.
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { maximumAttempts: 1 },
});

/** The circuit breaker's move: cancel the running load after `cancelAfterMs`. */
export async function loadCancelTestWorkflow(input: { runId: string; settings: LoadSettings; ledger: LedgerSpec; cancelAfterMs: number }):
  Promise<{ results: { cancelled: boolean; counts: LoadShardResult['counts'] }[]; error?: string }> {
  const shards = planLoadShards(input.runId, input.settings, input.ledger);
  const scope = new CancellationScope();
  const running = scope.run(() => Promise.all(shards.map((s) => cancellable.runLoadShard(s))));
  await sleep(input.cancelAfterMs);
  scope.cancel();
  try {
    const results = await running;
    return { results: results.map((r) => ({ cancelled: r.cancelled, counts: r.counts })) };
  } catch (err) {
    return { results: [], error: String(err) };
  }
}
