// PaymentIntents, Refunds, lists, search and error shapes, through the official SDK.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import Stripe from 'stripe';
import { request } from 'undici';
import { harness, rejection, type Harness } from './helpers.ts';

let h: Harness;
before(async () => { h = await harness(); });
after(async () => { await h.close(); });

describe('PaymentIntents', () => {
  test('create, confirm, retrieve: the lifecycle of a card payment', async () => {
    const pi = await h.stripe.paymentIntents.create({ amount: 4200, currency: 'eur', metadata: { test_run_id: 'life', message_id: 'a' } });
    assert.match(pi.id, /^pi_[A-Za-z0-9]{24}$/);
    assert.equal(pi.object, 'payment_intent');
    assert.equal(pi.status, 'requires_payment_method');
    assert.equal(pi.amount_received, 0);
    assert.match(pi.client_secret!, new RegExp(`^${pi.id}_secret_`));
    assert.deepEqual(pi.metadata, { test_run_id: 'life', message_id: 'a' });
    const confirmed = await h.stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_visa' });
    assert.equal(confirmed.status, 'succeeded');
    assert.equal(confirmed.amount_received, 4200);
    assert.match(confirmed.latest_charge as string, /^ch_/);
    assert.match(confirmed.payment_method as string, /^pm_/);
    const got = await h.stripe.paymentIntents.retrieve(pi.id);
    assert.deepEqual(JSON.parse(JSON.stringify(got)), JSON.parse(JSON.stringify(confirmed)));
  });

  test('create with confirm: true charges at once; manual capture waits for capture', async () => {
    const pi = await h.stripe.paymentIntents.create({ amount: 900, currency: 'usd', confirm: true, payment_method: 'pm_card_visa',
      automatic_payment_methods: { enabled: true, allow_redirects: 'never' } });
    assert.equal(pi.status, 'succeeded');
    const manual = await h.stripe.paymentIntents.create({ amount: 900, currency: 'usd', confirm: true, payment_method: 'pm_card_visa', capture_method: 'manual' });
    assert.equal(manual.status, 'requires_capture');
    assert.equal(manual.amount_capturable, 900);
    const captured = await h.stripe.paymentIntents.capture(manual.id);
    assert.equal(captured.status, 'succeeded');
    assert.equal(captured.amount_received, 900);
  });

  test('confirming a succeeded PaymentIntent is payment_intent_unexpected_state', async () => {
    const pi = await h.stripe.paymentIntents.create({ amount: 900, currency: 'usd', confirm: true, payment_method: 'pm_card_visa' });
    const err = await rejection(h.stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_visa' }));
    assert.equal(err.type, 'StripeInvalidRequestError');
    assert.equal(err.statusCode, 400);
    assert.equal(err.code, 'payment_intent_unexpected_state');
    assert.equal((err.raw as { payment_intent?: { status: string } }).payment_intent?.status, 'succeeded');
  });

  test('cancel, and update merges metadata (empty value unsets)', async () => {
    const pi = await h.stripe.paymentIntents.create({ amount: 700, currency: 'usd', metadata: { a: '1', b: '2' } });
    const upd = await h.stripe.paymentIntents.update(pi.id, { metadata: { b: '', c: '3' } });
    assert.deepEqual(upd.metadata, { a: '1', c: '3' });
    const canceled = await h.stripe.paymentIntents.cancel(pi.id, { cancellation_reason: 'abandoned' });
    assert.equal(canceled.status, 'canceled');
    assert.equal(canceled.cancellation_reason, 'abandoned');
  });
});

describe('lists: newest first, cursor pagination, created filters', () => {
  let r: Harness;
  const ids: string[] = []; // creation order
  let t1 = 0;
  let t2 = 0;
  before(async () => {
    r = await harness();
    // Three batches in three different seconds, so created filters have something to split.
    for (let batch = 0; batch < 3; batch++) {
      for (let i = 0; i < 5; i++) {
        const pi = await r.stripe.paymentIntents.create({ amount: 100 + batch * 10 + i, currency: 'usd', metadata: { batch: String(batch) } });
        ids.push(pi.id);
      }
      const last = await r.stripe.paymentIntents.retrieve(ids.at(-1)!);
      if (batch === 0) t1 = last.created + 1;
      if (batch === 1) t2 = last.created + 1;
      if (batch < 2) await sleep(1000 - (Date.now() % 1000) + 20); // into the next second
    }
  });
  after(async () => { await r.close(); });

  test('default list: 10 newest first, has_more', async () => {
    const page = await r.stripe.paymentIntents.list();
    assert.equal(page.object, 'list');
    assert.equal(page.url, '/v1/payment_intents');
    assert.equal(page.data.length, 10);
    assert.equal(page.has_more, true);
    assert.deepEqual(page.data.map((p) => p.id), ids.slice().reverse().slice(0, 10));
  });

  test('starting_after walks every object exactly once; ending_before walks back', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await r.stripe.paymentIntents.list({ limit: 4, ...(cursor ? { starting_after: cursor } : {}) });
      seen.push(...page.data.map((p) => p.id));
      if (!page.has_more) break;
      cursor = page.data.at(-1)!.id;
    }
    assert.deepEqual(seen, ids.slice().reverse());
    const back = await r.stripe.paymentIntents.list({ limit: 3, ending_before: ids[5]! });
    assert.deepEqual(back.data.map((p) => p.id), [ids[8], ids[7], ids[6]]);
    assert.equal(back.has_more, true);
  });

  test('the SDK auto-pagination sees every object once', async () => {
    const all: string[] = [];
    for await (const pi of r.stripe.paymentIntents.list({ limit: 2 })) all.push(pi.id);
    assert.deepEqual(all, ids.slice().reverse());
  });

  test('created filters: gte/lt split the batches, an exact second selects one batch', async () => {
    const first = await r.stripe.paymentIntents.list({ created: { lt: t1 }, limit: 100 });
    assert.deepEqual(first.data.map((p) => p.id), ids.slice(0, 5).reverse());
    const middle = await r.stripe.paymentIntents.list({ created: { gte: t1, lt: t2 }, limit: 100 });
    assert.deepEqual(middle.data.map((p) => p.id), ids.slice(5, 10).reverse());
    const last = await r.stripe.paymentIntents.list({ created: { gt: t2 - 1 }, limit: 100 });
    assert.deepEqual(last.data.map((p) => p.id), ids.slice(10).reverse());
    const exact = await r.stripe.paymentIntents.list({ created: t1 - 1, limit: 100 });
    assert.deepEqual(exact.data.map((p) => p.id), ids.slice(0, 5).reverse());
    const paged = await r.stripe.paymentIntents.list({ created: { gte: t1 }, limit: 3, starting_after: ids[12]! });
    assert.deepEqual(paged.data.map((p) => p.id), [ids[11], ids[10], ids[9]]);
  });

  test('an unknown cursor is resource_missing on the cursor param', async () => {
    const err = await rejection(r.stripe.paymentIntents.list({ starting_after: 'pi_doesnotexist' }));
    assert.equal(err.statusCode, 404);
    assert.equal(err.code, 'resource_missing');
    assert.equal(err.param, 'starting_after');
  });
});

describe('search by metadata', () => {
  test("metadata['test_run_id'] finds exactly that run's PaymentIntents, paged, newest first", async () => {
    const mine: string[] = [];
    for (let i = 0; i < 23; i++) {
      const pi = await h.stripe.paymentIntents.create({ amount: 500 + i, currency: 'usd', metadata: { test_run_id: 'run-x', message_id: `m-${i}` } });
      mine.push(pi.id);
      await h.stripe.paymentIntents.create({ amount: 500, currency: 'usd', metadata: { test_run_id: 'run-other' } });
    }
    const first = await h.stripe.paymentIntents.search({ query: "metadata['test_run_id']:'run-x'", limit: 10 });
    assert.equal(first.object, 'search_result');
    assert.equal(first.url, '/v1/payment_intents/search');
    assert.equal(first.data.length, 10);
    assert.equal(first.has_more, true);
    assert.ok(first.next_page);
    const seen: string[] = [];
    for await (const pi of h.stripe.paymentIntents.search({ query: "metadata['test_run_id']:'run-x'", limit: 10 })) seen.push(pi.id);
    assert.deepEqual(seen, mine.slice().reverse());
    const total = await h.stripe.paymentIntents.search({ query: 'metadata["test_run_id"]:"run-x"', limit: 1, expand: ['total_count'] });
    assert.equal((total as unknown as { total_count: number }).total_count, 23);
  });

  test('status, amount and currency clauses, AND / OR, negation', async () => {
    const a = await h.stripe.paymentIntents.create({ amount: 7777, currency: 'gbp', metadata: { test_run_id: 'run-q' } });
    const b = await h.stripe.paymentIntents.create({ amount: 8888, currency: 'gbp', metadata: { test_run_id: 'run-q' }, confirm: true, payment_method: 'pm_card_visa' });
    const ids = async (query: string) => (await h.stripe.paymentIntents.search({ query, limit: 100 })).data.map((p) => p.id).sort();
    assert.deepEqual(await ids("metadata['test_run_id']:'run-q' AND status:'succeeded'"), [b.id]);
    assert.deepEqual(await ids("metadata['test_run_id']:'run-q' AND -status:'succeeded'"), [a.id]);
    assert.deepEqual(await ids("metadata['test_run_id']:'run-q' AND amount>8000"), [b.id]);
    assert.deepEqual(await ids('amount:7777 OR amount:8888'), [a.id, b.id].sort());
    assert.deepEqual(await ids("currency:'gbp' AND amount<=7777"), [a.id]);
  });

  test('a malformed query is a 400 on the query param', async () => {
    for (const query of ["metadata['x':'y'", "nosuchfield:'x'", "status:'a' AND amount:1 OR amount:2", 'status:unquoted']) {
      const err = await rejection(h.stripe.paymentIntents.search({ query }));
      assert.equal(err.statusCode, 400, query);
      assert.equal(err.param, 'query', query);
    }
  });
});

describe('Refunds', () => {
  test('partial refunds up to the amount received, then charge_already_refunded', async () => {
    const pi = await h.stripe.paymentIntents.create({ amount: 1000, currency: 'usd', confirm: true, payment_method: 'pm_card_visa' });
    const r1 = await h.stripe.refunds.create({ payment_intent: pi.id, amount: 300, metadata: { why: 'test' } });
    assert.match(r1.id, /^re_/);
    assert.equal(r1.object, 'refund');
    assert.equal(r1.status, 'succeeded');
    assert.equal(r1.amount, 300);
    assert.equal(r1.payment_intent, pi.id);
    assert.equal(r1.charge, pi.latest_charge);
    const tooMuch = await rejection(h.stripe.refunds.create({ payment_intent: pi.id, amount: 701 }));
    assert.equal(tooMuch.statusCode, 400);
    assert.equal(tooMuch.code, 'amount_too_large');
    const r2 = await h.stripe.refunds.create({ charge: pi.latest_charge as string }); // the rest
    assert.equal(r2.amount, 700);
    const done = await rejection(h.stripe.refunds.create({ payment_intent: pi.id }));
    assert.equal(done.code, 'charge_already_refunded');
    assert.deepEqual((await h.stripe.refunds.retrieve(r1.id)).metadata, { why: 'test' });
    const listed = await h.stripe.refunds.list({ payment_intent: pi.id });
    assert.deepEqual(listed.data.map((r) => r.id), [r2.id, r1.id]);
  });

  test('refunding an unpaid PaymentIntent is refused', async () => {
    const pi = await h.stripe.paymentIntents.create({ amount: 1000, currency: 'usd' });
    const err = await rejection(h.stripe.refunds.create({ payment_intent: pi.id }));
    assert.equal(err.statusCode, 400);
    assert.equal(err.code, 'charge_not_refundable');
    const missing = await rejection(h.stripe.refunds.create({ payment_intent: 'pi_nope' }));
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.param, 'payment_intent');
  });
});

describe('error shapes', () => {
  test('missing, unknown and invalid params name the param with Stripe codes', async () => {
    const missing = await rejection(h.stripe.paymentIntents.create({ currency: 'usd' } as Stripe.PaymentIntentCreateParams));
    assert.equal(missing.type, 'StripeInvalidRequestError');
    assert.equal(missing.statusCode, 400);
    assert.equal(missing.code, 'parameter_missing');
    assert.equal(missing.param, 'amount');
    assert.equal(missing.message, 'Missing required param: amount.');
    const unknown = await rejection(h.stripe.paymentIntents.create({ amount: 100, currency: 'usd', colour: 'red' } as Stripe.PaymentIntentCreateParams));
    assert.equal(unknown.code, 'parameter_unknown');
    assert.equal(unknown.param, 'colour');
    const notInt = await rejection(h.stripe.paymentIntents.create({ amount: 'ten' as unknown as number, currency: 'usd' }));
    assert.equal(notInt.code, 'parameter_invalid_integer');
    const small = await rejection(h.stripe.paymentIntents.create({ amount: 10, currency: 'usd' }));
    assert.equal(small.code, 'amount_too_small');
    assert.equal(small.param, 'amount');
  });

  test('an unknown object is a 404 resource_missing', async () => {
    const err = await rejection(h.stripe.paymentIntents.retrieve('pi_123'));
    assert.equal(err.statusCode, 404);
    assert.equal(err.code, 'resource_missing');
    assert.equal(err.message, "No such payment_intent: 'pi_123'");
  });

  test('keys: a missing or non-test key is a 401', async () => {
    const live = new Stripe('sk_live_nottoday', { ...h.emu.sdkOptions, maxNetworkRetries: 0 });
    const err = await rejection(live.paymentIntents.list());
    assert.equal(err.type, 'StripeAuthenticationError');
    assert.equal(err.statusCode, 401);
    assert.doesNotMatch(err.message, /nottoday/, 'the key is masked');
    const res = await request(`${h.emu.url}/v1/payment_intents`);
    assert.equal(res.statusCode, 401);
    const body = await res.body.json() as { error: { type: string; message: string } };
    assert.equal(body.error.type, 'invalid_request_error');
  });

  test('an unknown URL and a non-form body get Stripe-shaped errors', async () => {
    const res = await request(`${h.emu.url}/v1/customers`, { headers: { authorization: 'Bearer sk_test_x' } });
    assert.equal(res.statusCode, 404);
    const body = await res.body.json() as { error: { type: string; message: string } };
    assert.equal(body.error.type, 'invalid_request_error');
    assert.match(body.error.message, /Unrecognized request URL \(GET: \/v1\/customers\)/);
    const json = await request(`${h.emu.url}/v1/payment_intents`, { method: 'POST',
      headers: { authorization: 'Bearer sk_test_x', 'content-type': 'application/json' }, body: '{"amount":100}' });
    assert.ok(json.statusCode === 400 || json.statusCode === 415, String(json.statusCode));
    const jb = await json.body.json() as { error: { type: string } };
    assert.equal(jb.error.type, 'invalid_request_error');
  });

  test('every answer carries Request-Id and Stripe-Version', async () => {
    const pi = await h.stripe.paymentIntents.create({ amount: 100, currency: 'usd' });
    assert.match(pi.lastResponse.requestId, /^req_/);
    assert.ok(pi.lastResponse.apiVersion);
  });
});
