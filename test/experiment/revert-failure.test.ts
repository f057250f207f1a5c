// A revert that fails makes the verdict ERROR (never PASS) and names the fault that
// may still be active. A real revert cannot be made to fail on demand, so this test
// replaces the revertFault activity with one that reports failure (the only stand-in
// in these tests); the real fault is then healed by the real revert, from the handle
// the report carries.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { revertFault } from '../../activities/faults/index.ts';
import type { FaultHandle, RevertResult } from '../../activities/faults/types.ts';
import type { OrdealClient } from '../../scripts/client/index.ts';
import { startWorkers, type RunningWorkers } from '../../workers/index.ts';
import { createOrchestratorWorker } from '../../workers/orchestrator.ts';
import { client, config, leasesOf, paymentApiReady, shortDbKill, uniqueQueue, until } from './harness.ts';

const taskQueue = uniqueQueue('test-revert-fail');
const loadTaskQueue = `${taskQueue}-load`;
let ordeal: OrdealClient;
let load: RunningWorkers;
let stopOrchestrator: () => Promise<void>;
let leftover: FaultHandle | null = null;

before(async () => {
  load = await startWorkers({ orchestrator: false, loadTaskQueue, metrics: false });
  const failingRevert = async (handle: FaultHandle): Promise<RevertResult> =>
    ({ faultId: handle.faultId, reverted: false, alreadyReverted: false, error: 'backend refused (test stand-in)' });
  const { worker, connection } = await createOrchestratorWorker({ config, taskQueue, activities: { revertFault: failingRevert } });
  const running = worker.run();
  stopOrchestrator = async () => { worker.shutdown(); await running; await connection.close(); };
  ordeal = await client(taskQueue);
});
after(async () => {
  if (leftover) await revertFault(leftover, 'test-cleanup');
  await until('the payment API to be ready again', paymentApiReady, 60_000).catch(() => {});
  await stopOrchestrator?.();
  load?.shutdown();
  await load?.done;
  await ordeal?.close();
});

void test('a failed revert makes the verdict ERROR and names the fault', async () => {
  const h = await ordeal.start({ scenario: 'db_failure_peak_load', loadTaskQueue,
    overrides: [...shortDbKill, 'faults.0.duration=3s', 'recovery.timeout=5s'] });
  const r = await h.result();
  leftover = r.report.faults[0]?.handle ?? null;
  assert.equal(r.verdict, 'ERROR', r.reasons.join('\n'));
  const f = r.report.faults[0]!;
  assert.equal(f.revert?.reverted, false);
  assert.ok(r.reasons.some((x) => x.includes(`revert of fault ${f.handle.faultId} (database_kill on postgres) failed`) && /may still be active/.test(x)),
    r.reasons.join('\n'));
  assert.deepEqual((await leasesOf(r.run_id)).map((l) => l.state), ['active'], 'the lease still records the fault as active');
});
