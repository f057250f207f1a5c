// Determinism: the experiment workflow replays recorded histories of real runs (a
// PASS, an ABORTED with its partial proof, and a run whose worker was SIGKILLed and
// resumed on another). A change to workflow code that would break running
// experiments fails here. Needs no stack: replay runs the bundle against the history.
// Re-record after a deliberate, versioned change: `npm run test:record-histories`.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import proto from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { workflowBundle } from '../../workers/orchestrator.ts';
import { EXPERIMENT_WORKFLOW } from '../../workflows/names.ts';

const fixtures = join(import.meta.dirname, 'histories');
/** Fixtures are protobufjs's object form of the history (written by test/experiment/harness.ts recordHistory). */
const load = (name: string) => proto.temporal.api.history.v1.History.fromObject(JSON.parse(readFileSync(join(fixtures, `${name}.json`), 'utf8')));

for (const name of ['pass', 'aborted', 'crash-resumed']) {
  void test(`the recorded ${name} run replays without a determinism error`, async () => {
    const history = load(name);
    const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
    assert.equal(started?.workflowType?.name, EXPERIMENT_WORKFLOW, 'the fixture is an experiment run');
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle(), replayName: name }, history);
  });
}

void test('the replayer is strict: a history with one activity renamed fails', async () => {
  const history = load('pass');
  const scheduled = history.events!.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'generateLedger');
  assert.ok(scheduled, 'the PASS run scheduled generateLedger');
  scheduled.activityTaskScheduledEventAttributes!.activityType!.name = 'generateLedgerRenamed';
  await assert.rejects(Worker.runReplayHistory({ workflowBundle: await workflowBundle(), replayName: 'tampered' }, history), /nondetermin|DeterminismViolation/i);
});
