import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import Stripe from 'stripe';
import { faultEvidence, injectFault, revertFault, type FaultSpecInput } from '../../activities/faults/index.ts';
import { StripeEmulatorAdmin } from '../../systems/stripe-emulator/admin-client.ts';
import { assertNoFaultLeft, config, servicesUp } from './helpers.ts';

let upBefore: Set<string>;
const stripe = new Stripe('sk_test_ordeal_faults', { host: '127.0.0.1', port: config.ports.stripe_emulator, protocol: 'http', maxNetworkRetries: 0, timeout: 5000 });
const admin = new StripeEmulatorAdmin(`http://127.0.0.1:${config.ports.stripe_emulator}`);

before(async () => {
  upBefore = await servicesUp();
  assert.ok(upBefore.has('stripe-emulator'), 'the stack runs the Stripe emulator');
});
after(async () => {
  assert.deepEqual((await admin.getFaults()).layers, [], 'no provider fault layer left');
  await assertNoFaultLeft(upBefore);
});

const inject = (spec: Omit<FaultSpecInput, 'at' | 'duration'>) =>
  injectFault({ runId: 'test-provider', spec: { at: 0, duration: '30s', ...spec }, leaseMs: 60_000 });

async function errorOf(p: Promise<unknown>): Promise<Stripe.errors.StripeError> {
  try {
    await p;
  } catch (err) {
    return err as Stripe.errors.StripeError;
  }
  throw new Error('expected the call to fail');
}

void test('provider_errors 429: every call rate-limited while in effect, with a ttl past the lease', async () => {
  const handle = await inject({ type: 'provider_errors', target: 'stripe', params: { status: 429, rate: 1 } });
  assert.equal(handle.backend, 'provider');
  const evidence = await faultEvidence(handle);
  assert.ok(evidence[0]?.ok, JSON.stringify(evidence));
  assert.match(evidence[0]!.description, /"error_rate_429":1/);
  const layer = (await admin.getFaults()).layers.find((l) => l.id === handle.faultId);
  assert.ok(layer?.expires_at && new Date(layer.expires_at) > new Date(handle.leaseExpiresAt), 'the emulator ends the layer itself after the lease');
  const err = await errorOf(stripe.paymentIntents.list({ limit: 1 }));
  assert.equal(err.statusCode, 429);

  const r = await revertFault(handle);
  assert.deepEqual([r.reverted, r.alreadyReverted], [true, false]);
  assert.equal((await stripe.paymentIntents.list({ limit: 1 })).object, 'list');
  assert.equal((await revertFault(handle)).alreadyReverted, true);
});

void test('provider_errors 500 and provider_latency stack as separate layers; each revert removes only its own', async () => {
  const errors = await inject({ type: 'provider_errors', target: 'stripe-emulator', params: { status: 500, rate: 1, methods: 'POST' } });
  const latency = await inject({ type: 'provider_latency', target: 'stripe', params: { latency_ms: 400 } });
  assert.equal((await errorOf(stripe.paymentIntents.create({ amount: 100, currency: 'usd' }))).statusCode, 500);
  const t0 = performance.now();
  await stripe.paymentIntents.list({ limit: 1 });
  assert.ok(performance.now() - t0 >= 380, 'GET is slowed but not failed (errors apply to POST only)');

  await revertFault(errors);
  assert.deepEqual((await admin.getFaults()).layers.map((l) => l.id), [latency.faultId]);
  await revertFault(latency);
  const t1 = performance.now();
  await stripe.paymentIntents.create({ amount: 100, currency: 'usd' });
  assert.ok(performance.now() - t1 < 300);
});

void test('provider_response_lost: the payment commits but the client never hears; a retry with the same key replays it', async () => {
  const handle = await inject({ type: 'provider_response_lost', target: 'stripe', params: { rate: 1, methods: 'POST' } });
  const key = `ordeal-faults-test-${Date.now()}`;
  const params = { amount: 4242, currency: 'usd', metadata: { test_run_id: key } };
  const lost = await errorOf(stripe.paymentIntents.create(params, { idempotencyKey: key }));
  assert.equal(lost.type, 'StripeConnectionError');
  await revertFault(handle);
  const replay = await stripe.paymentIntents.create(params, { idempotencyKey: key });
  const found = await stripe.paymentIntents.search({ query: `metadata['test_run_id']:'${key}'` });
  assert.deepEqual(found.data.map((p) => p.id), [replay.id], 'committed exactly once, before the response was lost');
});
