// The soak workflow: cycles of chaos experiments as child workflows, RSS samples
// between cycles, continue-as-new between runs (leak detection itself: leak.unit.test.ts).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { OrdealClient } from '../../scripts/client/index.ts';
import type { RunningWorkers } from '../../workers/index.ts';
import { SOAK_WORKFLOW, STATUS_QUERY } from '../../workflows/names.ts';
import type { SoakResult, SoakState } from '../../workflows/types.ts';
import { client, inProcessWorkers } from './harness.ts';

let ordeal: OrdealClient;
let workers: RunningWorkers;
let taskQueue: string;
let loadTaskQueue: string;
before(async () => {
  const w = await inProcessWorkers('test-soak');
  ({ workers, taskQueue, loadTaskQueue } = w);
  ordeal = await client(taskQueue);
});
after(async () => {
  workers?.shutdown();
  await workers?.done;
  await ordeal?.close();
});

void test('a 2-cycle soak continues as new between cycles and samples the system\'s memory', async () => {
  // Cycles use the default load task queue name through the scenario, so point it at this test's load worker.
  const workflowId = `test-soak-${process.pid}-${Date.now()}`;
  const h = await ordeal.client.workflow.start(SOAK_WORKFLOW, {
    taskQueue, workflowId,
    args: [{ scenario: 'db_failure_peak_load', cycles: 2, cyclesPerRun: 1,
      overrides: ['ledger.messages=300', 'load.rate=50', 'load.duration=6s', 'load.warmup=0', 'faults=[]', 'load.thresholds={}'],
      loadTaskQueue }],
  });
  const r = await h.result() as SoakResult;
  assert.equal(r.cycles, 2);
  assert.deepEqual(r.verdicts.map((v) => v.verdict), ['PASS', 'PASS']);
  assert.equal(r.verdict, 'PASS');
  assert.deepEqual(r.leaks, []);
  const first = await ordeal.client.workflow.getHandle(workflowId, h.firstExecutionRunId).fetchHistory();
  assert.ok(first.events?.some((e) => e.workflowExecutionContinuedAsNewEventAttributes), 'continued as new after cycle 1');
  assert.ok((first.events?.length ?? 0) < 200, 'a soak run keeps its history small');
  // No services in the input: the ones the scenario's system file names (the embedded
  // stack's defaults.soak.services), each sampled while running.
  const state = await ordeal.client.workflow.getHandle(workflowId).query<SoakState>(STATUS_QUERY);
  assert.equal(state.samples.length, 3, 'one sample before the first cycle and one after each');
  for (const sample of state.samples) {
    assert.deepEqual(Object.keys(sample.rss_bytes).sort(), ['payment-api', 'stream-processor']);
    assert.ok(Object.values(sample.rss_bytes).every((b) => b > 10 * 2 ** 20), `each service's RSS read from /proc: ${JSON.stringify(sample.rss_bytes)}`);
  }
});
