import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Stripe from 'stripe';
import { StripeEmulatorAdmin } from '../../../systems/stripe-emulator/admin-client.ts';
import type { ServiceSpec } from '../service.ts';

export const stripeEmulator: ServiceSpec = {
  name: 'stripe-emulator',
  description: 'Stripe-compatible emulator (PaymentIntents, Refunds, idempotency keys, provider faults)',
  ports: ['stripe_emulator'],
  url: (c) => `http://127.0.0.1:${c.ports.stripe_emulator}`,
  metrics: (c) => `127.0.0.1:${c.ports.stripe_emulator}`,
  async prepare(ctx) {
    mkdirSync(ctx.dataDir, { recursive: true });
  },
  // The supervisor runs under the project's Node 24 (scripts/run-node), so its own
  // executable runs the emulator's TypeScript directly.
  launch: (ctx) => ({
    file: process.execPath,
    // No memory reducer: it runs a full, memory-shrinking GC when the process looks idle.
    // The emulator holds every PaymentIntent (hundreds of MB after a few bench runs), and
    // a pause in traffic (a rate step, a drain) was followed by a 200-600 ms event-loop
    // stall just as the traffic came back. Its heap only grows anyway.
    args: ['--no-memory-reducer', join(ctx.config.root, 'systems/stripe-emulator/main.ts'), '--port', String(ctx.config.ports.stripe_emulator),
      '--data-dir', ctx.dataDir],
    cwd: ctx.config.root,
  }),
  // Ready means the official SDK gets a Stripe-shaped answer, not just an open port.
  async ready(ctx) {
    const stripe = new Stripe('sk_test_ordeal_readiness', {
      host: '127.0.0.1', port: ctx.config.ports.stripe_emulator, protocol: 'http', maxNetworkRetries: 0, timeout: 2000,
    });
    const page = await stripe.paymentIntents.list({ limit: 1 });
    if (page.object !== 'list') throw new Error(`GET /v1/payment_intents answered ${JSON.stringify(page).slice(0, 200)}`);
    const stats = await new StripeEmulatorAdmin(this.url(ctx.config), { timeoutMs: 2000 }).stats();
    return `${stats.objects.payment_intents} payment intents, ${stats.idempotency.keys} idempotency keys, journal ${Math.round(stats.journal.bytes / 1024)} KiB`;
  },
  stopSignal: 'SIGTERM',
  stopGraceMs: 5000,
};
