// Fault activities routed per host, as the experiment workflow routes them: inject on
// the queue of the target's host (faultQueueOf), revert and observe on the queue its
// handle records (handleQueueOf). Test-only; `queue` forces a queue to test refusals.
import { proxyActivities } from '@temporalio/workflow';
import type { faultActivities } from '../../../activities/faults/index.ts';
import { faultQueueOf, handleQueueOf } from '../../../activities/faults/routing.ts';
import type { SystemFile } from '../../../activities/system/schema.ts';
import type { FaultEvidence, FaultHandle, FaultSpecInput, RevertResult } from '../../../activities/faults/types.ts';

const on = (taskQueue: string | undefined) => proxyActivities<typeof faultActivities>({
  ...(taskQueue ? { taskQueue } : {}),
  startToCloseTimeout: '2m',
  retry: { initialInterval: '200ms', maximumAttempts: 3 },
});

export async function hostInjectWorkflow(input: { runId: string; spec: FaultSpecInput; system: SystemFile; leaseMs: number; queue?: string }): Promise<{ handle: FaultHandle; evidence: FaultEvidence[]; queue: string | undefined }> {
  const queue = input.queue ?? faultQueueOf({ type: input.spec.type, target: input.spec.target }, input.system);
  const acts = on(queue);
  const handle = await acts.injectFault({ runId: input.runId, spec: input.spec, leaseMs: input.leaseMs, system: input.system });
  return { handle, evidence: await on(handleQueueOf(handle)).faultEvidence(handle), queue };
}

export async function hostRevertWorkflow(handle: FaultHandle): Promise<RevertResult> {
  return on(handleQueueOf(handle)).revertFault(handle);
}
