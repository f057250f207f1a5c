import { join } from 'node:path';
import { request } from 'undici';
import type { ServiceSpec } from '../service.ts';
import { kafka } from './kafka.ts';
import { postgres } from './postgres.ts';
import { redis } from './redis.ts';

/** The reference payment API; reaches PostgreSQL, Redis and Kafka through their Toxiproxy proxies. */
export const paymentApi: ServiceSpec = {
  name: 'payment-api',
  description: 'reference payment API (fastify; PostgreSQL + outbox, Redis fast path, Stripe, Kafka relay)',
  ports: ['payment_api'],
  url: (c) => `http://127.0.0.1:${c.ports.payment_api}`,
  metrics: (c) => `127.0.0.1:${c.ports.payment_api}`,
  after: ['postgres', 'redis', 'kafka', 'stripe-emulator'],
  defects: 'payment-api',
  launch: (ctx) => ({
    // The supervisor runs under the project's Node 24; its executable runs the API's TypeScript.
    file: process.execPath,
    args: ['--disable-warning=TimeoutNegativeWarning', join(ctx.config.root, 'systems', 'payment-api', 'main.ts')],
    cwd: ctx.config.root,
    env: {
      PAYMENT_API_HOST: '127.0.0.1',
      PAYMENT_API_PORT: String(ctx.config.ports.payment_api),
      DATABASE_URL: postgres.url(ctx.config),
      REDIS_URL: redis.url(ctx.config),
      KAFKA_BROKERS: kafka.url(ctx.config),
      STRIPE_EMULATOR_URL: `http://127.0.0.1:${ctx.config.ports.stripe_emulator}`,
      LOG_LEVEL: 'info',
    },
  }),
  async ready(ctx) {
    const res = await request(`${this.url(ctx.config)}/ready`, { headersTimeout: 3000, bodyTimeout: 3000 });
    const body = (await res.body.json()) as { ready?: boolean; checks?: Record<string, unknown>; defects?: string[] };
    if (res.statusCode !== 200) throw new Error(`/ready answered ${res.statusCode}: ${JSON.stringify(body.checks)}`);
    return body.defects?.length ? `defects: ${body.defects.join(', ')}` : undefined;
  },
  stopGraceMs: 10000,
};
