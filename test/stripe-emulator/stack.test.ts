// The stack's emulator (started by `ordeal stack up`) answers the official SDK on its
// configured port, exposes metrics for Prometheus, and takes faults from the admin client.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, test } from 'node:test';
import Stripe from 'stripe';
import { loadStackConfig } from '../../scripts/stack/config.ts';
import { StripeEmulatorAdmin, stripeEmulatorUrl } from '../../systems/stripe-emulator/index.ts';

const port = loadStackConfig().ports.stripe_emulator;
const admin = new StripeEmulatorAdmin(stripeEmulatorUrl(port));
const stripe = new Stripe('sk_test_stack', { host: '127.0.0.1', port, protocol: 'http', maxNetworkRetries: 0 });
const layer = `stack-test-${randomUUID()}`;

after(async () => { await admin.clearFaults(layer); });

test('the stack emulator: SDK create/confirm/search on the configured port, faults by layer, metrics', async () => {
  const run = randomUUID();
  const pi = await stripe.paymentIntents.create({ amount: 2500, currency: 'usd', metadata: { test_run_id: run } }, { idempotencyKey: `stack-${run}` });
  await stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_visa' });
  const found = await stripe.paymentIntents.search({ query: `metadata['test_run_id']:'${run}'` });
  assert.deepEqual(found.data.map((p) => [p.id, p.status]), [[pi.id, 'succeeded']]);

  await admin.setFaults({ id: layer, error_rate_429: 1, ttl_ms: 60_000 });
  await assert.rejects(stripe.paymentIntents.retrieve(pi.id), (e: Stripe.errors.StripeError) => e.statusCode === 429);
  await admin.clearFaults(layer);
  assert.equal((await stripe.paymentIntents.retrieve(pi.id)).status, 'succeeded');

  const metrics = await (await fetch(`${stripeEmulatorUrl(port)}/metrics`)).text();
  assert.match(metrics, /stripe_emulator_requests_total\{method="POST",route="\/v1\/payment_intents\/\{id\}\/confirm",status="200"\} \d+/);
  assert.equal((await admin.health()).status, 'ok');
});
