// Provider faults set through the admin API, observed through the official SDK.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, afterEach, before, test } from 'node:test';
import Stripe from 'stripe';
import { StripeEmulatorAdminError } from '../../systems/stripe-emulator/index.ts';
import { harness, rejection, type Harness } from './helpers.ts';

let h: Harness;
before(async () => { h = await harness(); });
afterEach(async () => { await h.emu.admin.clearFaults(); });
after(async () => { await h.close(); });

async function statusesOf(n: number, call: () => Promise<unknown>): Promise<Map<number, number>> {
  const counts = new Map<number, number>();
  for (let i = 0; i < n; i += 20) {
    const batch = await Promise.allSettled(Array.from({ length: Math.min(20, n - i) }, call));
    for (const r of batch) {
      const s = r.status === 'fulfilled' ? 200 : ((r.reason as Stripe.errors.StripeError).statusCode ?? -1);
      counts.set(s, (counts.get(s) ?? 0) + 1);
    }
  }
  return counts;
}

test('error_rate_429 and error_rate_500: the observed fractions match, with Stripe error shapes', async () => {
  await h.emu.admin.setFaults({ error_rate_429: 0.3, error_rate_500: 0.2 });
  const n = 600;
  const counts = await statusesOf(n, () => h.stripe.paymentIntents.list({ limit: 1 }));
  const f429 = (counts.get(429) ?? 0) / n;
  const f500 = (counts.get(500) ?? 0) / n;
  // Binomial sd at n=600 is ~0.019 (p=0.3) and ~0.016 (p=0.2): 4 sd either side.
  assert.ok(Math.abs(f429 - 0.3) < 0.08, `429 fraction ${f429}`);
  assert.ok(Math.abs(f500 - 0.2) < 0.07, `500 fraction ${f500}`);
  assert.equal((counts.get(200) ?? 0) + (counts.get(429) ?? 0) + (counts.get(500) ?? 0), n);

  await h.emu.admin.setFaults({ error_rate_429: 1 });
  const e429 = await rejection(h.stripe.paymentIntents.create({ amount: 100, currency: 'usd' }));
  assert.equal(e429.type, 'StripeRateLimitError');
  assert.equal(e429.code, 'rate_limit');
  await h.emu.admin.setFaults({ error_rate_500: 1 });
  const e500 = await rejection(h.stripe.paymentIntents.create({ amount: 100, currency: 'usd' }));
  assert.equal(e500.type, 'StripeAPIError');
  assert.equal(e500.statusCode, 500);
  assert.equal(e500.rawType, 'api_error');
  const stats = await h.emu.admin.stats();
  assert.ok(stats.injected.rate_limited >= 1 && stats.injected.server_errors >= 1);
});

test('an injected error executes nothing: no PaymentIntent is created', async () => {
  const before = (await h.emu.admin.stats()).objects.payment_intents;
  await h.emu.admin.setFaults({ error_rate_429: 0.5, error_rate_500: 0.5 });
  const counts = await statusesOf(40, () => h.stripe.paymentIntents.create({ amount: 100, currency: 'usd' }));
  assert.equal(counts.get(200), undefined);
  assert.equal((await h.emu.admin.stats()).objects.payment_intents, before);
});

test('latency_ms delays every request by that much; clearing it restores speed', async () => {
  await h.emu.admin.setFaults({ latency_ms: 250 });
  const t0 = performance.now();
  await Promise.all(Array.from({ length: 5 }, () => h.stripe.paymentIntents.list({ limit: 1 })));
  const slow = performance.now() - t0;
  assert.ok(slow >= 245 && slow < 2000, `5 parallel requests took ${slow} ms with 250 ms latency`);
  await h.emu.admin.clearFaults();
  const t1 = performance.now();
  await h.stripe.paymentIntents.list({ limit: 1 });
  const fast = performance.now() - t1;
  assert.ok(fast < 150, `took ${fast} ms without latency`);
});

test('response_lost_rate: the request commits, the client sees a dropped connection, the key replays it', async () => {
  await h.emu.admin.setFaults({ response_lost_rate: 1 });
  const params = { amount: 3100, currency: 'usd', metadata: { message_id: 'lost-1', test_run_id: 'lost' } };
  // The SDK retries a reset connection once with the same key; both answers are lost.
  const err = await rejection(h.stripe.paymentIntents.create(params, { idempotencyKey: 'lost-key-1' }));
  assert.equal(err.type, 'StripeConnectionError');
  const stats = await h.emu.admin.stats();
  assert.ok(stats.injected.responses_lost >= 1);
  await h.emu.admin.clearFaults();
  const found = await h.stripe.paymentIntents.search({ query: "metadata['message_id']:'lost-1'" });
  assert.equal(found.data.length, 1, 'committed exactly once despite the lost responses');
  const replay = await h.stripe.paymentIntents.create(params, { idempotencyKey: 'lost-key-1' });
  assert.equal(replay.id, found.data[0]!.id);
  assert.equal(replay.lastResponse.headers['idempotent-replayed'], 'true');
});

test("response_lost_mode 'timeout': the request commits and the client's timeout fires", async () => {
  await h.emu.admin.setFaults({ response_lost_rate: 1, response_lost_mode: 'timeout', response_lost_hold_ms: 10_000 });
  const impatient = new Stripe('sk_test_x', { ...h.emu.sdkOptions, maxNetworkRetries: 0, timeout: 400 });
  const params = { amount: 3200, currency: 'usd', metadata: { message_id: 'lost-timeout', test_run_id: 'lost' } };
  const t0 = performance.now();
  const err = await rejection(impatient.paymentIntents.create(params, { idempotencyKey: 'lost-timeout-1' }));
  const waited = performance.now() - t0;
  assert.equal(err.type, 'StripeConnectionError');
  assert.match(err.message, /timeout/i);
  assert.ok(waited >= 380 && waited < 5000, `gave up after ${waited} ms`);
  await h.emu.admin.clearFaults();
  const found = await h.stripe.paymentIntents.search({ query: "metadata['message_id']:'lost-timeout'" });
  assert.equal(found.data.length, 1, 'committed although never answered');
  const replay = await h.stripe.paymentIntents.create(params, { idempotencyKey: 'lost-timeout-1' });
  assert.equal(replay.id, found.data[0]!.id);
});

test('layers: independent ids add up and are removed separately; methods narrow a layer', async () => {
  await h.emu.admin.setFaults({ id: 'exp-a', error_rate_429: 0.25 });
  const view = await h.emu.admin.setFaults({ id: 'exp-b', latency_ms: 40, error_rate_429: 0.25 });
  assert.deepEqual(view.layers.map((l) => l.id), ['exp-a', 'exp-b']);
  assert.equal(view.effective.error_rate_429, 0.5);
  assert.equal(view.effective.latency_ms, 40);
  const left = await h.emu.admin.clearFaults('exp-a');
  assert.equal(left.removed, 1);
  assert.deepEqual(left.layers.map((l) => l.id), ['exp-b']);
  assert.equal((await h.emu.admin.clearFaults('exp-a')).removed, 0, 'removing twice is harmless');
  await h.emu.admin.clearFaults();
  await h.emu.admin.setFaults({ error_rate_500: 1, methods: ['POST'] });
  await h.stripe.paymentIntents.list({ limit: 1 }); // GET unaffected
  const e = await rejection(h.stripe.paymentIntents.create({ amount: 100, currency: 'usd' }));
  assert.equal(e.statusCode, 500);
});

test('ttl_ms: a layer ends by itself', async () => {
  const set = await h.emu.admin.setFaults({ error_rate_500: 1, ttl_ms: 300 });
  assert.ok(set.layers[0]!.expires_at);
  await rejection(h.stripe.paymentIntents.list({ limit: 1 }));
  await sleep(350);
  await h.stripe.paymentIntents.list({ limit: 1 });
  assert.deepEqual((await h.emu.admin.getFaults()).layers, []);
});

test('invalid fault settings are refused with the field named', async () => {
  const err = await h.emu.admin.setFaults({ error_rate_429: 1.5 }).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof StripeEmulatorAdminError);
  assert.equal(err.status, 400);
  assert.match(err.message, /error_rate_429/);
  const unknown = await h.emu.admin.setFaults({ error_rate: 0.5 } as never).then(() => undefined, (e: unknown) => e);
  assert.ok(unknown instanceof StripeEmulatorAdminError);
  assert.equal(unknown.status, 400);
});

test('/health and /metrics', async () => {
  const health = await h.emu.admin.health();
  assert.equal(health.status, 'ok');
  await h.emu.admin.setFaults({ error_rate_429: 1 });
  await rejection(h.stripe.paymentIntents.list({ limit: 1 }));
  const res = await fetch(`${h.emu.url}/metrics`);
  const text = await res.text();
  assert.match(text, /stripe_emulator_requests_total\{method="GET",route="\/v1\/payment_intents",status="429"\} \d+/);
  assert.match(text, /stripe_emulator_faults_injected_total\{kind="rate_limited"\} \d+/);
  assert.match(text, /stripe_emulator_fault_setting\{setting="error_rate_429"\} 1/);
  assert.match(text, /stripe_emulator_request_duration_seconds_bucket/);
});
