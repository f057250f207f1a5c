// The stream processor's seeded defects really manifest under their trigger, a
// SIGKILL mid-stream, so Ordeal has something real to catch:
// - consumer_at_least_once: settlements re-produced after the kill (duplicates), none lost;
// - consumer_commit_before_process: settlements of committed offsets lost.
// The relay sends no duplicates here, so every anomaly comes from the defect. A kill
// can land where the defect happens to do no harm, so each test runs up to a few
// kill rounds and stops at the first that shows it.
import assert from 'node:assert/strict';
import { after, test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { StreamDefect } from '../../systems/stream-processor/index.ts';
import {
  kafkaClient, metricSum, openPipeline, ProcessorChild, randomBetween, summary, verify, waitLagZero, type Verdict,
} from './harness.ts';

const kafka = kafkaClient();
const children: ProcessorChild[] = [];
after(async () => {
  for (const c of children) await c.kill();
});

/** When to kill: the processor's counters at the moment the defect's window is open. */
type KillWhen = (m: Map<string, number>, threshold: number) => boolean;

async function killRounds(t: TestContext, defect: StreamDefect, killWhen: KillWhen, manifested: (v: Verdict) => boolean): Promise<Verdict> {
  const { p, relay } = await openPipeline(t, kafka, defect.replaceAll('_', '-'));
  let v: Verdict | undefined;
  for (let round = 1; round <= 4; round++) {
    // A backlog, so the killed process is busy settling when the kill comes.
    for (let i = 0; i < 10; i++) await relay.send(1000, 0);
    let child = ProcessorChild.start(p, [defect]);
    children.push(child);
    await child.waitHealthy();
    const threshold = randomBetween(500, 3000);
    let m = await child.metrics();
    const deadline = Date.now() + 30000;
    while (!killWhen(m, threshold) && Date.now() < deadline) {
      await sleep(20);
      m = await child.metrics();
    }
    await child.kill();
    const consumed = metricSum(m, 'stream_processor_messages_consumed_total');
    const processed = metricSum(m, 'stream_processor_messages_processed_total');
    child = ProcessorChild.start(p, [defect]);
    children.push(child);
    await child.waitHealthy();
    await waitLagZero(kafka, p, child);
    assert.equal(await child.stop(), 0, `graceful stop failed:\n${child.tail()}`);
    v = await verify(kafka, p, relay.sent);
    t.diagnostic(`round ${round}: killed after ${consumed} consumed, ${processed} settled; ${summary(v)}`);
    if (manifested(v)) return v;
  }
  return v!;
}

void test('defect consumer_at_least_once: a processor kill duplicates settlements', { timeout: 240000 }, async (t) => {
  // Window: settlements produced whose offsets the 5 s auto-commit has not committed yet.
  const v = await killRounds(t, 'consumer_at_least_once',
    (m, threshold) => metricSum(m, 'stream_processor_messages_processed_total') >= threshold, (v) => v.duplicated.length > 0);
  assert.ok(v.duplicated.length > 0, `expected duplicates in payments.settled: ${summary(v)}`);
  assert.deepEqual(v.missing, [], 'at-least-once loses nothing');
  assert.deepEqual(v.ghosts, []);
});

void test('defect consumer_commit_before_process: a processor kill loses settlements', { timeout: 240000 }, async (t) => {
  // Window: offsets committed, settlements still in the buffer.
  const v = await killRounds(t, 'consumer_commit_before_process', (m, threshold) =>
    metricSum(m, 'stream_processor_offset_commits_total') > 0 && metricSum(m, 'stream_processor_messages_consumed_total') >= threshold
      && metricSum(m, 'stream_processor_messages_consumed_total') > metricSum(m, 'stream_processor_messages_processed_total'),
  (v) => v.missing.length > 0);
  assert.ok(v.missing.length > 0, `expected settlements missing from payments.settled: ${summary(v)}`);
  assert.deepEqual(v.duplicated, [], 'offsets are committed first: nothing is processed twice');
  assert.deepEqual(v.ghosts, []);
});
