import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { harness, rejection, sdk, type Harness } from './helpers.ts';

let h: Harness;
before(async () => { h = await harness(); });
after(async () => { await h.emu.admin.clearFaults(); await h.close(); });

const sdkWithRetries = () => sdk(h.emu, { maxNetworkRetries: 4 });
const params = (message_id: string) => ({ amount: 1500, currency: 'usd', metadata: { test_run_id: 'idem', message_id } });

test('same key and params replays the stored response, with Idempotent-Replayed', async () => {
  const first = await h.stripe.paymentIntents.create(params('m1'), { idempotencyKey: 'replay-1' });
  assert.equal(first.lastResponse.headers['idempotent-replayed'], undefined);
  // The object changes after creation; the replay must still be the original response.
  await h.stripe.paymentIntents.confirm(first.id, { payment_method: 'pm_card_visa' });
  const again = await h.stripe.paymentIntents.create(params('m1'), { idempotencyKey: 'replay-1' });
  assert.deepEqual(JSON.parse(JSON.stringify(again)), JSON.parse(JSON.stringify(first)), 'the stored response, not the current state');
  assert.equal(again.status, 'requires_payment_method');
  assert.equal(again.lastResponse.headers['idempotent-replayed'], 'true');
  assert.equal(again.lastResponse.headers['original-request'], first.lastResponse.requestId);
  const found = await h.stripe.paymentIntents.search({ query: "metadata['message_id']:'m1'" });
  assert.equal(found.data.length, 1, 'a replay must not create a second PaymentIntent');
});

test('params are compared by value, not by encoding order', async () => {
  const a = await h.stripe.paymentIntents.create({ currency: 'usd', metadata: { message_id: 'm-order', test_run_id: 'idem' }, amount: 1500 }, { idempotencyKey: 'order-1' });
  const b = await h.stripe.paymentIntents.create(params('m-order'), { idempotencyKey: 'order-1' });
  assert.equal(b.id, a.id);
});

test('same key with different params is a 400 idempotency_error', async () => {
  await h.stripe.paymentIntents.create(params('m2'), { idempotencyKey: 'mismatch-1' });
  const err = await rejection(h.stripe.paymentIntents.create({ ...params('m2'), amount: 1501 }, { idempotencyKey: 'mismatch-1' }));
  assert.equal(err.type, 'StripeIdempotencyError');
  assert.equal(err.statusCode, 400);
  assert.equal(err.rawType, 'idempotency_error');
  assert.match(err.message, /same parameters/);
});

test('same key on a different endpoint is a 400 idempotency_error', async () => {
  const pi = await h.stripe.paymentIntents.create(params('m3'), { idempotencyKey: 'endpoint-1' });
  const err = await rejection(h.stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_visa' }, { idempotencyKey: 'endpoint-1' }));
  assert.equal(err.statusCode, 400);
  assert.equal(err.rawType, 'idempotency_error');
});

test('a request racing an in-flight one with the same key gets 409; exactly one PaymentIntent exists', async () => {
  // Latency holds the first request inside its in-flight window.
  await h.emu.admin.setFaults({ latency_ms: 300 });
  try {
    const results = await Promise.allSettled(Array.from({ length: 8 }, () =>
      h.stripe.paymentIntents.create(params('race'), { idempotencyKey: 'race-1' })));
    const ok = results.filter((r) => r.status === 'fulfilled');
    const conflicts = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as { statusCode?: number; code?: string; rawType?: string }] : []));
    assert.equal(ok.length, 1, `one request wins: ${JSON.stringify(results.map((r) => r.status))}`);
    assert.equal(conflicts.length, 7);
    for (const c of conflicts) {
      assert.equal(c.statusCode, 409);
      assert.equal(c.code, 'idempotency_key_in_use');
      assert.equal(c.rawType, 'idempotency_error');
    }
  } finally {
    await h.emu.admin.clearFaults();
  }
  // After the first finished, the key replays.
  const again = await h.stripe.paymentIntents.create(params('race'), { idempotencyKey: 'race-1' });
  assert.equal(again.lastResponse.headers['idempotent-replayed'], 'true');
  const found = await h.stripe.paymentIntents.search({ query: "metadata['message_id']:'race'" });
  assert.equal(found.data.length, 1);
  const stats = await h.emu.admin.stats();
  assert.ok(stats.idempotency.conflicts >= 7);
});

test('with the SDK retrying 409s (it does by default, twice), racing requests all end with the one PaymentIntent', async () => {
  await h.emu.admin.setFaults({ latency_ms: 200 });
  try {
    const retrying = sdkWithRetries();
    const results = await Promise.all(Array.from({ length: 5 }, () =>
      retrying.paymentIntents.create(params('race-retry'), { idempotencyKey: 'race-retry-1' })));
    assert.equal(new Set(results.map((r) => r.id)).size, 1);
    assert.ok(results.some((r) => r.lastResponse.headers['idempotent-replayed'] === 'true'));
  } finally {
    await h.emu.admin.clearFaults();
  }
});

test('an over-long idempotency key is a 400 naming it', async () => {
  const err = await rejection(h.stripe.paymentIntents.create(params('long-key'), { idempotencyKey: 'k'.repeat(256) }));
  assert.equal(err.statusCode, 400);
  assert.equal(err.param, 'idempotency_key');
});

test('validation errors are not stored: the same key works once the params are fixed', async () => {
  const err = await rejection(h.stripe.paymentIntents.create({ amount: 1500, currency: 'zzz' }, { idempotencyKey: 'fixable-1' }));
  assert.equal(err.statusCode, 400);
  assert.equal(err.param, 'currency');
  const pi = await h.stripe.paymentIntents.create({ amount: 1500, currency: 'usd' }, { idempotencyKey: 'fixable-1' });
  assert.equal(pi.amount, 1500);
});

test('a card decline is stored and replayed with its 402 and the PaymentIntent', async () => {
  const body = { amount: 2000, currency: 'usd', confirm: true, payment_method: 'pm_card_chargeDeclined', metadata: { message_id: 'decl' } };
  const first = await rejection(h.stripe.paymentIntents.create(body, { idempotencyKey: 'decline-1' }));
  assert.equal(first.statusCode, 402);
  assert.equal(first.type, 'StripeCardError');
  assert.equal(first.code, 'card_declined');
  assert.equal(first.decline_code, 'generic_decline');
  const second = await rejection(h.stripe.paymentIntents.create(body, { idempotencyKey: 'decline-1' }));
  assert.equal(second.statusCode, 402);
  assert.equal(second.headers?.['idempotent-replayed'], 'true');
  const piA = (first.raw as { payment_intent?: { id: string } }).payment_intent;
  const piB = (second.raw as { payment_intent?: { id: string } }).payment_intent;
  assert.ok(piA?.id);
  assert.equal(piB?.id, piA.id);
});

test('an injected 500 executes nothing: the retry with the same key creates the PaymentIntent once', async () => {
  // Raw HTTP, so that no SDK retry hides the 500.
  await h.emu.admin.setFaults({ error_rate_500: 1 });
  const body = 'amount=1234&currency=usd&metadata[message_id]=retry500';
  const headers = { authorization: 'Bearer sk_test_x', 'content-type': 'application/x-www-form-urlencoded', 'idempotency-key': 'retry-500' };
  const url = `${h.emu.url}/v1/payment_intents`;
  const r1 = await request(url, { method: 'POST', headers, body });
  assert.equal(r1.statusCode, 500);
  const e1 = await r1.body.json() as { error: { type: string } };
  assert.equal(e1.error.type, 'api_error');
  await h.emu.admin.clearFaults();
  const r2 = await request(url, { method: 'POST', headers, body });
  assert.equal(r2.statusCode, 200);
  const pi = await r2.body.json() as { id: string };
  const r3 = await request(url, { method: 'POST', headers, body });
  assert.equal(r3.headers['idempotent-replayed'], 'true');
  assert.equal((await r3.body.json() as { id: string }).id, pi.id);
});
