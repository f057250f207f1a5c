// Faults during load on the correct system: a PostgreSQL kill, a Redis restart and
// Stripe 429 bursts. Every payment is sent until acknowledged with its own key (as
// Ordeal's redelivery does); afterwards PostgreSQL, Stripe and Kafka each hold every
// acknowledged payment exactly once, and nothing else.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import {
  body, Client, dbCounts, stripeAdmin, kafkaCounts, killService, reconcile, restartService, runId, runLoad, startTestApi, stripeCounts,
  waitOutboxDrained, type TestApi,
} from './helpers.ts';

async function assertExactlyOnce(t: TestApi, run: string, acked: Map<string, string>, count: number): Promise<void> {
  assert.equal(acked.size, count, 'every payment was acknowledged in the end');
  const db = reconcile(acked.keys(), await dbCounts(t.db, run));
  assert.deepEqual(db, { lost: [], duplicated: [], ghosts: [] }, 'PostgreSQL');
  const ids = await t.db.query<{ message_id: string; id: string }>('SELECT message_id, id FROM payments WHERE test_run_id = $1', [run]);
  for (const r of ids.rows) assert.equal(acked.get(r.message_id), r.id, `the acknowledged id of ${r.message_id} is the stored one`);
  const stripe = reconcile(acked.keys(), await stripeCounts(run));
  assert.deepEqual(stripe, { lost: [], duplicated: [], ghosts: [] }, 'Stripe');
  await waitOutboxDrained(t.db);
  const kafka = reconcile(acked.keys(), await kafkaCounts(run, 30000, true));
  assert.deepEqual(kafka, { lost: [], duplicated: [], ghosts: [] }, 'Kafka (distinct payments)');
}

void describe('payment API under faults', () => {
  let t: TestApi;
  let client: Client;
  before(async () => {
    t = await startTestApi('faults');
    client = new Client(t.url, 64);
  });
  after(async () => {
    await client?.close();
    await t?.close();
  });

  void test('PostgreSQL killed (SIGKILL) and restarted during load: no loss, no duplicates', async () => {
    const run = runId('pgkill');
    const count = 600;
    const res = await runLoad(client, run, count, 150, async (started) => {
      while (started() < 150) await sleep(20);
      await killService('postgres', 1500);
    });
    assert.ok((res.statuses.get(201) ?? 0) + (res.statuses.get(200) ?? 0) === count, JSON.stringify([...res.statuses]));
    assert.ok(res.attempts > count, `the outage caused retries (${res.attempts} attempts for ${count} payments)`);
    await assertExactlyOnce(t, run, res.acked, count);
  });

  void test('Redis restarted (cache flushed) during load, then every key replayed: no loss, no duplicates', async () => {
    const run = runId('redis');
    const count = 400;
    const res = await runLoad(client, run, count, 150, async (started) => {
      while (started() < 150) await sleep(20);
      await restartService('redis', 1000);
    });
    // Replays after the flush are answered from PostgreSQL: the same payments.
    for (let i = 0; i < count; i += 1) {
      const b = body(run, i);
      const r = await client.postUntilAcked(b, `key-${b.message_id}`);
      assert.equal(r.status, 200);
      assert.equal(r.json.id, res.acked.get(b.message_id));
    }
    await assertExactlyOnce(t, run, res.acked, count);
  });

  void test('Stripe 429 bursts (and lost responses) during load: retried with the same key, no loss, no duplicates', async () => {
    const run = runId('stripe429');
    const count = 500;
    const layer = 'payment-api-test-429';
    try {
      const res = await runLoad(client, run, count, 150, async (started) => {
        // Three bursts of one second: 60 % of Stripe calls answered 429, 10 % commit and lose the response.
        for (let burst = 0; burst < 3; burst++) {
          while (started() < 80 + burst * 130) await sleep(20);
          await stripeAdmin.setFaults({ id: layer, error_rate_429: 0.6, response_lost_rate: 0.1, ttl_ms: 5000 });
          await sleep(1000);
          await stripeAdmin.clearFaults(layer);
        }
      });
      const stats = await client.get('/metrics');
      const rateLimited = Number(/stripe_api_errors_total\{error_type="rate_limit"\} (\d+)/.exec(stats.text)?.[1] ?? 0);
      assert.ok(rateLimited > 20, `the bursts were in effect: ${rateLimited} Stripe 429s seen by the API`);
      await assertExactlyOnce(t, run, res.acked, count);
    } finally {
      await stripeAdmin.clearFaults(layer);
    }
  });

  void test('Kafka killed (SIGKILL) and restarted during load: the outbox holds the events, none lost or duplicated', async () => {
    const run = runId('kafkakill');
    const count = 300;
    const res = await runLoad(client, run, count, 100, async (started) => {
      while (started() < 100) await sleep(20);
      await killService('kafka', 1000);
    });
    // Payments never depended on Kafka: all were acknowledged, then the relay catches up.
    await assertExactlyOnce(t, run, res.acked, count);
  });
});
