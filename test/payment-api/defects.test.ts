// Each seeded defect of the payment API really manifests under its trigger, so that
// Ordeal has something real to catch. Each test runs the defective instance on its
// own database; where useful, the correct system under the same trigger is the control.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { ToxiproxyClient } from '../../activities/faults/toxiproxy/client.ts';
import {
  body, Client, config, stripeAdmin, dbCounts, kafkaCounts, killService, reconcile, restartService, runId, runLoad, startTestApi,
  stripeCounts, waitOutboxDrained, type TestApi,
} from './helpers.ts';

async function withApi(name: string, defects: string[], fn: (t: TestApi, client: Client) => Promise<void>, options = {}): Promise<void> {
  const t = await startTestApi(name, { defects, ...options });
  const client = new Client(t.url, 128);
  try {
    const health = await client.get('/health');
    assert.deepEqual(health.json.defects, defects, 'the instance reports its defects');
    await fn(t, client);
  } finally {
    await client.close();
    await t.close();
  }
}

const duplicatedIn = (counts: Map<string, number>) => [...counts].filter(([, n]) => n > 1).length;

void describe('seeded defects of the payment API manifest under their triggers', () => {
  void test('idempotency_check_then_insert: concurrent same-key requests create duplicate payments', async () => {
    await withApi('def_check', ['idempotency_check_then_insert'], async (t, client) => {
      const run = runId('checkinsert');
      const replies = await Promise.all(Array.from({ length: 5 }, (_, k) => {
        const b = body(run, k);
        return Promise.all(Array.from({ length: 20 }, () => client.post(b, `key-${b.message_id}`)));
      }));
      const created = replies.flat().filter((r) => r.status === 201).length;
      const rows = await dbCounts(t.db, run);
      assert.ok(created > 5, `more than one 201 per key (${created} for 5 keys)`);
      assert.ok(duplicatedIn(rows) >= 1, `duplicate payment rows: ${JSON.stringify([...rows])}`);
    });
  });

  void test('idempotency_cache_only: after a Redis restart, replays create second payments', async () => {
    await withApi('def_cache', ['idempotency_cache_only'], async (t, client) => {
      const run = runId('cacheonly');
      const n = 30;
      for (let i = 0; i < n; i++) assert.equal((await client.post(body(run, i), `key-${run}-${i}`)).status, 201);
      // While Redis remembers, replays are deduplicated...
      assert.equal((await client.post(body(run, 0), `key-${run}-0`)).status, 200);
      await restartService('redis', 200);
      await waitRedis(client);
      // ...after the restart (keys lost), the same keys charge again.
      let again = 0;
      for (let i = 0; i < n; i++) if ((await client.post(body(run, i), `key-${run}-${i}`)).status === 201) again++;
      const rows = await dbCounts(t.db, run);
      assert.equal(again, n, 'every replay after the restart was treated as new');
      assert.equal(duplicatedIn(rows), n, `every payment is duplicated in PostgreSQL: ${JSON.stringify([...rows].slice(0, 3))}`);
    });
  });

  void test('ack_before_commit: payments acknowledged (201) just before a database kill are lost', async () => {
    await withApi('def_ack', ['ack_before_commit'], async (t, client) => {
      const run = runId('ackcommit');
      const count = 300;
      const res = await runLoad(client, run, count, 100, async (started) => {
        while (started() < 120) await sleep(10);
        await killService('postgres', 1500);
      });
      await sleep(1000); // the write-behind buffer flushes what it still has
      const verdict = reconcile(res.acked.keys(), await dbCounts(t.db, run));
      assert.equal(res.acked.size, count, 'every payment was acknowledged');
      assert.ok(verdict.lost.length > 0, `acknowledged payments missing from PostgreSQL: ${verdict.lost.length}`);
    });
  });

  void test('stripe_without_idempotency_key: lost Stripe responses make retries charge twice (with the key: once)', async () => {
    const layer = 'payment-api-test-lost';
    const outcome: Record<string, { acked: number; stripeDuplicated: number; dbDuplicated: number }> = {};
    try {
      for (const defects of [['stripe_without_idempotency_key'], []]) {
        await withApi(defects.length ? 'def_stripe' : 'ctl_stripe', defects, async (t, client) => {
          const run = runId(defects.length ? 'nokey' : 'nokeyctl');
          // Stripe commits the PaymentIntent, then the response is lost (connection reset).
          await stripeAdmin.setFaults({ id: layer, response_lost_rate: 0.5, methods: ['POST'], ttl_ms: 60000 });
          const res = await runLoad(client, run, 20, 50);
          await stripeAdmin.clearFaults(layer);
          const stripe = reconcile(res.acked.keys(), await stripeCounts(run));
          const db = reconcile(res.acked.keys(), await dbCounts(t.db, run));
          outcome[defects.length ? 'defect' : 'correct'] = {
            acked: res.acked.size, stripeDuplicated: stripe.duplicated.length, dbDuplicated: db.duplicated.length,
          };
        }, { stripeRetryBudgetMs: 20000 });
      }
    } finally {
      await stripeAdmin.clearFaults(layer);
    }
    assert.deepEqual(outcome.correct, { acked: 20, stripeDuplicated: 0, dbDuplicated: 0 }, JSON.stringify(outcome));
    assert.ok(outcome.defect!.stripeDuplicated > 0, `duplicate charges in Stripe: ${JSON.stringify(outcome)}`);
    assert.equal(outcome.defect!.dbDuplicated, 0, 'the database still holds one payment each: the damage is at the provider');
  });

  void test('outbox_mark_sent_on_error: a Kafka outage loses events between PostgreSQL and Kafka (the correct relay loses none)', async () => {
    const toxiproxy = new ToxiproxyClient(`http://127.0.0.1:${config.ports.toxiproxy}`);
    const outcome: Record<string, { acked: number; lost: number }> = {};
    for (const defects of [['outbox_mark_sent_on_error'], []]) {
      await withApi(defects.length ? 'def_outbox' : 'ctl_outbox', defects, async (t, client) => {
        const run = runId(defects.length ? 'outbox' : 'outboxctl');
        await toxiproxy.setEnabled('kafka', false);
        let acked: Map<string, string>;
        try {
          acked = (await runLoad(client, run, 40, 40)).acked;
          // The defective relay "publishes" (and fails) meanwhile; the correct one keeps the rows.
          await sleep(1500);
        } finally {
          await toxiproxy.setEnabled('kafka', true);
        }
        await waitOutboxDrained(t.db);
        const verdict = reconcile(acked.keys(), await kafkaCounts(run, 30000, true));
        outcome[defects.length ? 'defect' : 'correct'] = { acked: acked.size, lost: verdict.lost.length };
      });
    }
    assert.equal(outcome.correct!.lost, 0, `correct relay: ${JSON.stringify(outcome)}`);
    assert.ok(outcome.defect!.lost > 0, `defective relay lost events: ${JSON.stringify(outcome)}`);
  });
});

async function waitRedis(client: Client): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const r = await client.get('/ready');
    if ((r.json.checks as { redis?: boolean } | undefined)?.redis) return;
    await sleep(100);
  }
  throw new Error('the API did not reconnect to Redis within 10 s');
}

