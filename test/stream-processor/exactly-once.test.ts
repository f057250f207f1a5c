// The correct stream processor under SIGKILL: killed by pid at random points while
// payments stream in (with relay duplicates, some of events settled before a kill),
// restarted each time; afterwards every message is in payments.settled exactly once
// in the read_committed view, with the right settlement.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  abortedRecords, createTopics, deleteTopics, groupLag, kafkaClient, ProcessorChild, randomBetween, Relay, summary,
  uniquePipeline, verify, waitLagZero,
} from './harness.ts';

const kafka = kafkaClient();
const children: ProcessorChild[] = [];
after(async () => {
  for (const c of children) await c.kill();
});

void test('processor SIGKILL mid-stream → payments.settled exactly once', { timeout: 240000 }, async (t) => {
  const p = uniquePipeline('eo');
  await createTopics(kafka, p);
  const relay = new Relay(kafka, p);
  await relay.connect();
  t.after(async () => {
    const t0 = Date.now();
    await relay.disconnect();
    await deleteTopics(kafka, p);
    t.diagnostic(`cleanup took ${Date.now() - t0} ms`);
  });

  // The relay streams ~1,500 payments/s (10 % duplicates) for the whole kill phase.
  let producing = true;
  const producer = (async () => {
    while (producing) {
      await relay.send(150);
      await sleep(100);
    }
  })();

  const KILLS = 4;
  let child = ProcessorChild.start(p);
  children.push(child);
  const workedBeforeKill: number[] = [];
  try {
    for (let k = 0; k < KILLS; k++) {
      await child.waitHealthy();
      // Let it settle for a random while, then kill it while input is pending, so the
      // kill lands mid-stream (mostly inside a transaction, which is where it spends its time).
      await sleep(randomBetween(300, 2500));
      const m = await child.metrics();
      const lag = await groupLag(kafka, p.group, p.input);
      await child.kill();
      workedBeforeKill.push(m.get('stream_processor_transactions_committed_total') ?? 0);
      t.diagnostic(`kill ${k + 1}: pid ${child.pid}, committed transactions ${m.get('stream_processor_transactions_committed_total')}, ` +
        `processed ${m.get('stream_processor_messages_processed_total')}, duplicates skipped ${m.get('stream_processor_duplicates_skipped_total')}, lag ${lag}`);
      child = ProcessorChild.start(p);
      children.push(child);
    }
    await child.waitHealthy();
    await sleep(1000);
  } finally {
    producing = false;
    await producer;
  }

  await waitLagZero(kafka, p, child);
  const m = await child.metrics();
  assert.equal(await child.stop(), 0, `graceful stop failed:\n${child.tail()}`);
  const v = await verify(kafka, p, relay.sent);
  t.diagnostic(`${summary(v)}; relay sent ${relay.sent.size} payments + ${relay.duplicatesSent} duplicates; ` +
    `last process skipped ${m.get('stream_processor_duplicates_skipped_total')} duplicates; ` +
    `records of aborted transactions (kills inside a transaction): ${await abortedRecords(kafka, p, v.settledRecords)}`);

  // Mid-stream: the relay was producing at every kill and the killed process had been settling.
  assert.ok(workedBeforeKill.every((n) => n > 0), `every killed process must have committed work: ${workedBeforeKill.join(', ')}`);
  assert.ok(relay.duplicatesSent > 0 && relay.sent.size > 5000, 'the stream must carry real volume and duplicates');
  assert.deepEqual(v.missing, [], `lost settlements: ${summary(v)}`);
  assert.deepEqual(v.duplicated, [], `duplicated settlements: ${summary(v)}`);
  assert.deepEqual(v.ghosts, [], `ghost settlements: ${summary(v)}`);
  assert.deepEqual(v.mismatched, [], `wrong settlements: ${summary(v)}`);
  assert.equal(v.ok, relay.sent.size);
  assert.equal(v.settledRecords, relay.sent.size, 'one committed record per payment, none more');
});
