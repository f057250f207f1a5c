// The payment API's contract against the real stack: creation, replay, 422, every
// validation error, in-flight handling, one payment under 100 concurrent same-key
// requests (PostgreSQL, Stripe and Kafka each hold exactly one), 503 on outages.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { ToxiproxyClient } from '../../activities/faults/toxiproxy/client.ts';
import {
  body, Client, config, dbCounts, kafkaCounts, runId, startTestApi, stripeCounts, waitOutboxDrained, type TestApi,
} from './helpers.ts';

void describe('payment API', () => {
  let t: TestApi;
  let client: Client;
  before(async () => {
    t = await startTestApi('api', { inFlightWaitMs: 500 });
    client = new Client(t.url);
  });
  after(async () => {
    await client?.close();
    await t?.close();
  });

  void test('first request 201, replay 200 with the same payment, different body 422, new key a new payment', async () => {
    const run = runId('replay');
    const b = body(run, 1);
    const first = await client.post(b, `key-${run}-1`);
    assert.equal(first.status, 201, JSON.stringify(first.json));
    assert.match(String(first.json.id), /^pay_/);
    assert.equal(first.json.status, 'succeeded');
    assert.match(String(first.json.stripe_payment_intent_id), /^pi_/);
    assert.equal(first.headers['idempotent-replayed'], 'false');

    const replay = await client.post(b, `key-${run}-1`);
    assert.equal(replay.status, 200);
    assert.deepEqual(replay.json, first.json);
    assert.equal(replay.headers['idempotent-replayed'], 'true');

    // Key order in the body does not matter.
    const reordered = await client.post(b, `key-${run}-1`, {}, JSON.stringify(Object.fromEntries(Object.entries(b).reverse())));
    assert.equal(reordered.status, 200);
    assert.equal(reordered.json.id, first.json.id);

    const mismatch = await client.post({ ...b, amount_cents: b.amount_cents + 1 }, `key-${run}-1`);
    assert.equal(mismatch.status, 422);
    assert.equal(mismatch.json.error, 'idempotency_key_reused');
    assert.equal(mismatch.json.payment_id, first.json.id);
    assert.deepEqual((mismatch.json.fields as { field: string }[]).map((f) => f.field), ['amount_cents']);
    assert.match(String(mismatch.json.message), /different parameters \(amount_cents\)/);

    // The longest key allowed still charges (Stripe's own limit is 255 characters too).
    const long = await client.post(body(run, 3), `${run}-`.padEnd(255, 'k'));
    assert.equal(long.status, 201, JSON.stringify(long.json));

    const other = await client.post(body(run, 2), `key-${run}-2`);
    assert.equal(other.status, 201);
    assert.notEqual(other.json.id, first.json.id);

    const rows = await dbCounts(t.db, run);
    assert.deepEqual([...rows].sort(), [[b.message_id, 1], [body(run, 2).message_id, 1], [body(run, 3).message_id, 1]]);

    const got = await client.get(`/payments/${String(first.json.id)}`);
    assert.equal(got.status, 200);
    assert.deepEqual(got.json, first.json);
    assert.equal((await client.get('/payments/pay_doesnotexist')).status, 404);
  });

  void test('every validation error is a 400 naming the field', async () => {
    const run = runId('valid');
    const ok = body(run, 1);
    const cases: { name: string; body?: unknown; raw?: string; key?: string | null; field: string; status?: number; message: RegExp }[] = [
      { name: 'missing key', key: null, field: 'Idempotency-Key', message: /required/ },
      { name: 'empty key', key: '', field: 'Idempotency-Key', message: /empty/ },
      { name: 'key too long', key: 'k'.repeat(256), field: 'Idempotency-Key', message: /at most 255/ },
      { name: 'key charset', key: 'bad key!', field: 'Idempotency-Key', message: /only letters/ },
      ...(['message_id', 'amount_cents', 'currency', 'customer_id', 'test_run_id'] as const).map((f) => ({
        name: `missing ${f}`, body: Object.fromEntries(Object.entries(ok).filter(([k]) => k !== f)), field: f, message: /required/,
      })),
      { name: 'amount zero', body: { ...ok, amount_cents: 0 }, field: 'amount_cents', message: /positive/ },
      { name: 'amount negative', body: { ...ok, amount_cents: -5 }, field: 'amount_cents', message: /positive/ },
      { name: 'amount fraction', body: { ...ok, amount_cents: 10.5 }, field: 'amount_cents', message: /integer/ },
      { name: 'amount string', body: { ...ok, amount_cents: '100' }, field: 'amount_cents', message: /must be a number/ },
      { name: 'amount over limit', body: { ...ok, amount_cents: 100_000_001 }, field: 'amount_cents', message: /at most 100000000/ },
      { name: 'currency not allowed', body: { ...ok, currency: 'xyz' }, field: 'currency', message: /must be one of/ },
      { name: 'currency uppercase', body: { ...ok, currency: 'USD' }, field: 'currency', message: /must be one of/ },
      { name: 'currency type', body: { ...ok, currency: 5 }, field: 'currency', message: /must be a string/ },
      { name: 'message_id too long', body: { ...ok, message_id: 'm'.repeat(129) }, field: 'message_id', message: /at most 128/ },
      { name: 'message_id charset', body: { ...ok, message_id: 'a b' }, field: 'message_id', message: /only letters/ },
      { name: 'customer_id empty', body: { ...ok, customer_id: '' }, field: 'customer_id', message: /empty/ },
      { name: 'test_run_id charset', body: { ...ok, test_run_id: 'x/y' }, field: 'test_run_id', message: /only letters/ },
      { name: 'unknown field', body: { ...ok, extra: 1 }, field: 'extra', message: /unknown field/ },
      { name: 'array body', body: [ok], field: 'body', message: /JSON object/ },
      { name: 'malformed JSON', raw: '{"message_id": ', field: 'body', message: /JSON/i },
      { name: 'body too large', raw: JSON.stringify({ ...ok, pad: 'x'.repeat(20000) }), field: 'body', status: 413, message: /at most 16384 bytes/ },
    ];
    for (const c of cases) {
      const key = c.key === undefined ? `key-${c.name.replaceAll(' ', '-')}` : c.key;
      const r = await client.post(c.body ?? ok, key, {}, c.raw);
      assert.equal(r.status, c.status ?? 400, `${c.name}: ${JSON.stringify(r.json)}`);
      assert.equal(r.json.error, 'validation_failed', c.name);
      const fields = r.json.fields as { field: string; message: string }[];
      const hit = fields.find((f) => f.field === c.field);
      assert.ok(hit, `${c.name}: no error for ${c.field} in ${JSON.stringify(fields)}`);
      assert.match(hit.message, c.message, c.name);
    }
    // Several problems are reported together.
    const many = await client.post({ ...ok, amount_cents: -1, currency: 'XX' }, null);
    assert.deepEqual((many.json.fields as { field: string }[]).map((f) => f.field).sort(), ['Idempotency-Key', 'amount_cents', 'currency']);
    // Nothing was written by any rejected request.
    assert.equal((await dbCounts(t.db, run)).size, 0);
  });

  void test('100 concurrent requests with one key: one payment row, one PaymentIntent, one Kafka message', async () => {
    const run = runId('race');
    const b = body(run, 7);
    const replies = await Promise.all(Array.from({ length: 100 }, () => client.post(b, `key-${b.message_id}`)));
    const statuses = replies.map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 201).length, 1, `statuses: ${statuses.join(',')}`);
    assert.ok(statuses.every((s) => s === 201 || s === 200 || s === 409), `statuses: ${statuses.join(',')}`);
    const ids = new Set(replies.filter((r) => r.status < 300).map((r) => r.json.id));
    assert.equal(ids.size, 1, 'every acknowledgement names the same payment');

    assert.deepEqual([...await dbCounts(t.db, run)], [[b.message_id, 1]]);
    assert.deepEqual([...await stripeCounts(run)], [[b.message_id, 1]]);
    await waitOutboxDrained(t.db);
    assert.deepEqual([...await kafkaCounts(run)], [[b.message_id, 1]]);
  });

  void test('a request racing one in flight elsewhere waits, then gets 409 with Retry-After; never a second payment', async () => {
    const run = runId('inflight');
    const b = body(run, 1);
    const key = `key-${b.message_id}`;
    // Another instance's transaction holds the claim for this key.
    const other = new pg.Client({ connectionString: t.api.config.databaseUrl });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query("INSERT INTO idempotency_keys (key, request_hash, payment_id) VALUES ($1, 'x', 'pay_other')", [key]);
      const t0 = Date.now();
      const r = await client.post(b, key);
      assert.equal(r.status, 409, JSON.stringify(r.json));
      assert.equal(r.json.error, 'idempotency_key_in_flight');
      assert.equal(r.headers['retry-after'], '1');
      assert.ok(Date.now() - t0 >= 450, 'it waited for the in-flight request first');
      await other.query('ROLLBACK');
    } finally {
      await other.end();
    }
    // The other request gave up: this one now takes over.
    const retry = await client.post(b, key);
    assert.equal(retry.status, 201);
    assert.deepEqual([...await dbCounts(t.db, run)], [[b.message_id, 1]]);
  });

  void test('group commit: concurrent payments share claim statements, still one payment and one event per key', async () => {
    // One statement at a time, so that requests arriving meanwhile queue up and go together.
    const g = await startTestApi('group', { dbClaimConcurrency: 1, dbClaimBatch: 50 });
    const c = new Client(g.url, 96);
    try {
      const run = runId('group');
      const bodies = Array.from({ length: 120 }, (_, i) => body(run, i));
      // Three requests per key, interleaved, so the same key meets itself in and across statements.
      const replies = await Promise.all([0, 1, 2].flatMap(() => bodies.map((b) => c.post(b, `key-${b.message_id}`))));
      const byKey = new Map<string, Set<unknown>>();
      const statuses = replies.map((r) => r.status);
      assert.ok(statuses.every((s) => s === 201 || s === 200 || s === 409), `statuses: ${[...new Set(statuses)].join(',')}`);
      for (const r of replies.filter((x) => x.status < 300)) {
        const ids = byKey.get(String(r.json.message_id)) ?? new Set();
        ids.add(r.json.id);
        byKey.set(String(r.json.message_id), ids);
      }
      assert.ok([...byKey.values()].every((ids) => ids.size === 1), 'every acknowledgement for a key names the same payment');
      assert.equal(statuses.filter((s) => s === 201).length, bodies.length, 'exactly one 201 per key');
      const counts = await dbCounts(g.db, run);
      assert.equal(counts.size, bodies.length);
      assert.ok([...counts.values()].every((n) => n === 1), 'one payment row per key');
      const outbox = await g.db.query<{ n: string; d: string }>(
        "SELECT count(*) AS n, count(DISTINCT message_key) AS d FROM outbox WHERE payload->>'test_run_id' = $1", [run]);
      assert.deepEqual([Number(outbox.rows[0]!.n), Number(outbox.rows[0]!.d)], [bodies.length, bodies.length], 'one outbox row per payment');
      const statements = await metricValueOf(c, 'payment_claim_batch_size_count');
      const written = await metricValueOf(c, 'payment_claim_batch_size_sum');
      assert.ok(written > statements, `some statements carried several payments (${written} payments in ${statements} statements)`);
      await waitOutboxDrained(g.db);
      const events = await kafkaCounts(run);
      assert.equal(events.size, bodies.length);
      assert.ok([...events.values()].every((n) => n === 1), 'one Kafka message per payment');
    } finally {
      await c.close();
      await g.close();
    }
  });

  void test('group commit: a key held elsewhere fails only its own request, not the others in its statement', async () => {
    const g = await startTestApi('grouplock', { dbClaimConcurrency: 1, dbClaimBatch: 50, inFlightWaitMs: 500, relay: false });
    const c = new Client(g.url, 64);
    const other = new pg.Client({ connectionString: g.api.config.databaseUrl });
    await other.connect();
    try {
      const run = runId('grouplock');
      const bodies = Array.from({ length: 40 }, (_, i) => body(run, i));
      const held = bodies[0]!;
      await other.query('BEGIN');
      await other.query("INSERT INTO idempotency_keys (key, request_hash, payment_id) VALUES ($1, 'x', 'pay_other')", [`key-${held.message_id}`]);
      // The first request for the held key occupies the only statement slot (waiting for
      // the lock), so everything sent meanwhile, a second request for it included, forms
      // one statement that meets the held key.
      const first = c.post(held, `key-${held.message_id}`);
      await new Promise((r) => setTimeout(r, 100));
      const replies = await Promise.all(bodies.map((b) => c.post(b, `key-${b.message_id}`)));
      await other.query('ROLLBACK');
      assert.equal((await first).status, 409);
      assert.equal(replies[0]!.status, 409, JSON.stringify(replies[0]!.json));
      assert.deepEqual(replies.slice(1).map((r) => r.status), bodies.slice(1).map(() => 201));
      assert.ok(await metricValueOf(c, 'payment_claim_batch_size_bucket', 'le="16"') < await metricValueOf(c, 'payment_claim_batch_size_count'),
        'the held key shared a statement with many others');
      const counts = await dbCounts(g.db, run);
      assert.equal(counts.has(held.message_id), false, 'nothing written for the held key');
      assert.equal(counts.size, bodies.length - 1);
      assert.ok([...counts.values()].every((n) => n === 1));
    } finally {
      await other.end().catch(() => {});
      await c.close();
      await g.close();
    }
  });

  void test('PostgreSQL unreachable: 503 with Retry-After, nothing written; the same key succeeds afterwards', async () => {
    const run = runId('pgdown');
    const b = body(run, 1);
    const toxiproxy = new ToxiproxyClient(`http://127.0.0.1:${config.ports.toxiproxy}`);
    await toxiproxy.setEnabled('postgres', false);
    try {
      const r = await client.post(b, `key-${b.message_id}`);
      assert.equal(r.status, 503, JSON.stringify(r.json));
      assert.equal(r.headers['retry-after'], '1');
      assert.equal(r.json.dependency, 'postgres');
      const ready = await client.get('/ready');
      assert.equal(ready.status, 503);
      assert.equal((ready.json.checks as Record<string, boolean>).postgres, false);
    } finally {
      await toxiproxy.setEnabled('postgres', true);
    }
    assert.equal((await dbCounts(t.db, run)).size, 0);
    const again = await client.postUntilAcked(b, `key-${b.message_id}`, 20000);
    assert.equal(again.status, 201);
    assert.equal((await client.get('/ready')).status, 200);
  });

  void test('Stripe unreachable: 503 with Retry-After, no payment, claim or outbox row', async () => {
    const dead = await startTestApi('nostripe', { stripeEmulatorUrl: 'http://127.0.0.1:9', stripeRetryBudgetMs: 300, relay: false });
    const c = new Client(dead.url, 4);
    try {
      const run = runId('stripedown');
      const r = await c.post(body(run, 1), 'key-stripe-down');
      assert.equal(r.status, 503, JSON.stringify(r.json));
      assert.equal(r.json.dependency, 'stripe');
      assert.equal(r.headers['retry-after'], '1');
      for (const table of ['payments', 'idempotency_keys', 'outbox']) {
        const n = await dead.db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
        assert.equal(Number(n.rows[0]!.n), 0, `${table} is empty`);
      }
      assert.ok(await metricValueOf(c, 'stripe_api_errors_total', 'error_type="connection"') >= 1);
    } finally {
      await c.close();
      await dead.close();
    }
  });

  void test('STRIPE_CONFIRM=separate (create, then confirm): same guarantees as the one-call default', async () => {
    const two = await startTestApi('separate', { stripeConfirm: 'separate', relay: false });
    const c = new Client(two.url, 8);
    try {
      const run = runId('separate');
      const b = body(run, 1);
      const replies = await Promise.all(Array.from({ length: 10 }, () => c.post(b, `key-${b.message_id}`)));
      assert.deepEqual(replies.map((r) => r.status).sort(), [200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
      assert.equal(replies[0]!.json.status, 'succeeded');
      assert.deepEqual([...await stripeCounts(run)], [[b.message_id, 1]]);
      assert.deepEqual([...await dbCounts(two.db, run)], [[b.message_id, 1]]);
    } finally {
      await c.close();
      await two.close();
    }
  });

  void test('/health, /ready and /metrics with the product metric names', async () => {
    const health = await client.get('/health');
    assert.equal(health.status, 200);
    assert.deepEqual(health.json, { status: 'ok', defects: [] });
    const ready = await client.get('/ready');
    assert.equal(ready.status, 200, JSON.stringify(ready.json));
    assert.deepEqual(ready.json.checks, { postgres: true, stripe: true, redis: true, kafka: true });
    const metrics = (await client.get('/metrics')).text;
    for (const name of ['payment_requests_total{status="201"}', 'payment_processing_duration_seconds_bucket', 'payment_amount_cents_total',
      'duplicate_payments_detected_total', 'idempotency_cache_hits_total', 'stripe_api_errors_total', 'database_connection_pool_active']) {
      assert.ok(metrics.includes(name), `metrics expose ${name}`);
    }
    assert.ok(await metricValueOf(client, 'duplicate_payments_detected_total') >= 99, 'the race test\'s 99 replays were counted');
  });

  void test('start-up waits (bounded) for a database that is not reachable yet, then serves', async () => {
    const toxiproxy = new ToxiproxyClient(`http://127.0.0.1:${config.ports.toxiproxy}`);
    await toxiproxy.setEnabled('postgres', false);
    let late: TestApi | undefined;
    try {
      const starting = startTestApi('latedb', { relay: false, startupDbWaitMs: 20000 });
      // Without the wait this start rejects at once (ECONNREFUSED), as it did on 57P03.
      const early = await Promise.race([starting.then(() => 'started', () => 'failed'), new Promise((r) => setTimeout(r, 1500, 'waiting'))]);
      assert.equal(early, 'waiting');
      await toxiproxy.setEnabled('postgres', true);
      late = await starting;
      const run = runId('latedb');
      const c = new Client(late.url, 2);
      try {
        const r = await c.post(body(run, 1), `key-${run}`);
        assert.equal(r.status, 201, JSON.stringify(r.json));
      } finally {
        await c.close();
      }
    } finally {
      await toxiproxy.setEnabled('postgres', true);
      await late?.close();
    }
  });

  void test('start-up gives up after its bound, naming the cause', async () => {
    const toxiproxy = new ToxiproxyClient(`http://127.0.0.1:${config.ports.toxiproxy}`);
    await toxiproxy.setEnabled('postgres', false);
    try {
      const t0 = Date.now();
      await assert.rejects(startTestApi('nodb', { relay: false, startupDbWaitMs: 1000 }), /database not usable at start-up after \d+ attempt/);
      assert.ok(Date.now() - t0 < 10000, 'bounded');
    } finally {
      await toxiproxy.setEnabled('postgres', true);
    }
  });
});

async function metricValueOf(c: Client, name: string, labels = ''): Promise<number> {
  const text = (await c.get('/metrics')).text;
  return text.split('\n').filter((l) => l.startsWith(name) && (!labels || l.includes(labels)) && !l.startsWith('#'))
    .reduce((s, l) => s + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}
