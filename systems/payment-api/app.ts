// The HTTP surface: POST /payments, GET /payments/:id, /health, /ready, /metrics.
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyReply } from 'fastify';
import type pg from 'pg';
import { pino, type Logger } from 'pino';
import { IdempotencyCache } from './cache.ts';
import { resolveConfig, type PaymentApiConfig, type PaymentApiOptions } from './config.ts';
import { createMetrics, type PaymentMetrics } from './metrics.ts';
import { DependencyUnavailableError, PaymentService, type CreateOutcome, type PaymentServiceDeps } from './payments.ts';
import { OutboxRelay } from './relay.ts';
import { createPool, findById, isDatabaseUnavailable, migrate, warmPool, type PaymentRow } from './store.ts';
import { ChargeRejectedError, Charger, ProviderUnavailableError } from './stripe.ts';
import { BODY_LIMIT_BYTES, parseIdempotencyKey, parsePaymentRequest, paymentRequestSchema, type FieldError } from './validation.ts';

export interface PaymentApi {
  /** http://host:port */
  url: string;
  port: number;
  config: PaymentApiConfig;
  metrics: PaymentMetrics;
  close(): Promise<void>;
}

const RETRY_AFTER_SECONDS = '1';

function validationError(reply: FastifyReply, status: number, errors: FieldError[]) {
  return reply.code(status).send({
    error: 'validation_failed',
    message: errors.map((e) => `${e.field}: ${e.message}`).join('; '),
    fields: errors,
  });
}

function unavailable(reply: FastifyReply, dependency: string, message: string) {
  return reply.code(503).header('retry-after', RETRY_AFTER_SECONDS)
    .send({ error: 'dependency_unavailable', dependency, message: `${message}; nothing was written, retry with the same Idempotency-Key` });
}

const view = (p: PaymentRow) => ({
  id: p.id, message_id: p.message_id, amount_cents: p.amount_cents, currency: p.currency, customer_id: p.customer_id,
  test_run_id: p.test_run_id, status: p.status, stripe_payment_intent_id: p.stripe_payment_intent_id, created_at: p.created_at,
});

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms); })])
    .finally(() => clearTimeout(timer));
}

/**
 * A database that is still starting (57P03), restarting or not yet listening is waited
 * for, up to `waitMs`; so is one that does not exist yet (3D000): `ordeal stack up`
 * launches every process at once and creates the database in PostgreSQL's readiness
 * check, which a fast start of this service can beat (a clean-clone CI run failed so).
 * Any other error (bad credentials, broken schema) fails at once.
 */
async function migrateWhenReachable(pool: pg.Pool, waitMs: number, log: Logger): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (let attempt = 1; ; attempt++) {
    try {
      await migrate(pool);
      if (attempt > 1) log.info({ attempts: attempt }, 'database reachable; schema migrated');
      return;
    } catch (err) {
      const delay = Math.min(1000, 100 * attempt);
      const notYetCreated = (err as { code?: unknown }).code === '3D000';
      if (!(isDatabaseUnavailable(err) || notYetCreated) || Date.now() + delay > deadline) {
        throw new Error(`payment-api: database not usable at start-up after ${attempt} attempt(s) in ${waitMs} ms: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
      if (attempt === 1 || attempt % 10 === 0) {
        log.warn({ err: err instanceof Error ? err.message : String(err), code: (err as { code?: unknown }).code, attempt }, 'database not ready at start-up; retrying');
      }
      await sleep(delay);
    }
  }
}

/** Connects to the dependencies, migrates the schema, starts the relay and listens. */
export async function startPaymentApi(options: PaymentApiOptions & { logger?: Logger }): Promise<PaymentApi> {
  const config = resolveConfig(options);
  const log = options.logger ?? pino({ level: config.logLevel, base: { service: 'payment-api' } });
  if (config.defects.size) log.warn({ defects: [...config.defects] }, 'SEEDED DEFECTS ARE ON: this instance is deliberately incorrect');

  const pool = createPool(config.databaseUrl, config.dbPoolMax, config.inFlightWaitMs, config.dbPoolMin);
  let relay: OutboxRelay | null = null;
  const cache = new IdempotencyCache(config.redisUrl, log);
  const metrics = createMetrics(() => pool.totalCount - pool.idleCount, () => relay?.pending ?? 0, () => cache.memoryUsedBytes());
  const charger = new Charger(config, metrics, log);
  let app: ReturnType<typeof buildApp> | undefined;
  let service: PaymentService | undefined;
  try {
    await migrateWhenReachable(pool, config.startupDbWaitMs, log);
    await warmPool(pool, config.dbPoolMin);
    relay = config.relay ? new OutboxRelay(pool, config, metrics, log) : null;
    service = new PaymentService({ pool, cache, charger, relay, config, metrics, log });
    app = buildApp({ service, pool, cache, charger, relay, config, metrics, log });
    await app.listen({ host: config.host, port: config.port });
  } catch (err) {
    await app?.close();
    await service?.close();
    cache.close();
    await pool.end();
    throw err;
  }
  if (relay) {
    await relay.ensureTopic().catch((err: unknown) => log.warn({ err: String(err) }, 'could not ensure the payments topic; the relay retries'));
    relay.start();
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://${config.host}:${port}`;
  log.info({ url, relay: config.relay, stripe: config.stripeEmulatorUrl ?? 'api.stripe.com' }, 'payment-api listening');
  const server = app;
  const svc = service;
  const rel = relay;
  let closed: Promise<void> | undefined;
  return {
    url, port, config, metrics,
    close: () => (closed ??= (async () => {
      await server.close();
      await svc.close();
      await rel?.stop();
      cache.close();
      await pool.end();
    })()),
  };
}

/** What the HTTP layer needs: the service and everything the service itself was built from. */
interface AppDeps extends PaymentServiceDeps {
  service: PaymentService;
}

function buildApp(d: AppDeps) {
  const app = Fastify({ loggerInstance: d.log as FastifyBaseLogger, logController: new LogController({ disableRequestLogging: true }), bodyLimit: BODY_LIMIT_BYTES, keepAliveTimeout: 65000 });
  const schema = paymentRequestSchema(d.config);

  // Body errors (too large, malformed JSON, wrong content type) get the same field-level shape.
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => {
    const status = err.statusCode ?? 500;
    if (status === 413) return validationError(reply, 413, [{ field: 'body', message: `the body must be at most ${BODY_LIMIT_BYTES} bytes` }]);
    if (status === 415) return validationError(reply, 415, [{ field: 'content-type', message: 'send Content-Type: application/json' }]);
    if (status >= 400 && status < 500) return validationError(reply, 400, [{ field: 'body', message: err.message }]);
    d.log.error({ err }, 'unhandled error');
    return reply.code(500).send({ error: 'internal_error', message: err.message });
  });

  app.post('/payments', async (request, reply) => {
    const started = process.hrtime.bigint();
    let outcome = 'error';
    try {
      const key = parseIdempotencyKey(request.headers['idempotency-key']);
      const body = parsePaymentRequest(schema, request.body);
      const errors = [...(key.ok ? [] : key.errors), ...(body.ok ? [] : body.errors)];
      if (!key.ok || !body.ok) {
        outcome = 'invalid';
        return await validationError(reply, 400, errors);
      }
      let result: CreateOutcome;
      try {
        result = await d.service.create(body.value, key.value);
      } catch (err) {
        if (err instanceof DependencyUnavailableError) {
          outcome = 'unavailable';
          return await unavailable(reply, err.dependency, err.message);
        }
        if (err instanceof ProviderUnavailableError) {
          outcome = 'unavailable';
          return await unavailable(reply, 'stripe', err.message);
        }
        if (err instanceof ChargeRejectedError) {
          outcome = 'rejected';
          return await reply.code(err.declined ? 402 : 502).send({ error: err.declined ? 'card_declined' : 'payment_provider_error', message: err.message });
        }
        throw err;
      }
      outcome = result.kind;
      switch (result.kind) {
        case 'created':
          d.metrics.amount.inc({ currency: result.payment.currency }, result.payment.amount_cents);
          return await reply.code(201).header('idempotent-replayed', 'false').send(view(result.payment));
        case 'replayed':
          d.metrics.duplicates.inc({ source: result.source });
          return await reply.code(200).header('idempotent-replayed', 'true').send(view(result.payment));
        case 'mismatch':
          d.metrics.duplicates.inc({ source: 'mismatch' });
          return await reply.code(422).send({
            error: 'idempotency_key_reused',
            message: `Idempotency-Key ${key.value} was already used for payment ${result.payment.id} with different parameters (${result.fields.join(', ')}); use a new key for a new payment`,
            payment_id: result.payment.id,
            fields: result.fields.map((f) => ({ field: f, message: 'differs from the request first sent with this key' })),
          });
        case 'provider_mismatch':
          return await reply.code(422).send({
            error: 'idempotency_key_reused',
            message: `Idempotency-Key ${key.value} was already used at the payment provider with different parameters; use a new key for a new payment`,
            fields: [{ field: 'Idempotency-Key', message: 'already used with different parameters' }],
          });
        case 'in_flight':
          return await reply.code(409).header('retry-after', RETRY_AFTER_SECONDS).send({
            error: 'idempotency_key_in_flight',
            message: `a request with Idempotency-Key ${key.value} is still being processed; retry with the same key`,
          });
      }
    } finally {
      d.metrics.requests.inc({ status: String(reply.statusCode) });
      d.metrics.duration.observe({ outcome }, Number(process.hrtime.bigint() - started) / 1e9);
    }
  });

  app.get<{ Params: { id: string } }>('/payments/:id', async (request, reply) => {
    try {
      const p = await findById(d.pool, request.params.id);
      if (!p) return await reply.code(404).send({ error: 'not_found', message: `no payment ${request.params.id}` });
      return await reply.send(view(p));
    } catch (err) {
      if (isDatabaseUnavailable(err)) return await unavailable(reply, 'postgres', 'database unavailable');
      throw err;
    }
  });

  app.get('/health', async () => ({ status: 'ok', defects: [...d.config.defects] }));

  app.get('/ready', async (_request, reply) => {
    const [postgres, redis, stripe] = await Promise.all([
      withTimeout(d.pool.query('SELECT 1'), 1000).then(() => true, () => false),
      d.cache.ping(),
      d.charger.reachable(),
    ]);
    // Redis and Kafka are not required to take payments (fast path; outbox buffers).
    const ready = postgres && stripe;
    if (!ready) reply.header('retry-after', RETRY_AFTER_SECONDS);
    return reply.code(ready ? 200 : 503).send({
      ready,
      checks: { postgres, stripe, redis, kafka: d.relay ? d.relay.kafkaConnected : null },
      outbox_pending: d.relay?.pending ?? null,
      defects: [...d.config.defects],
    });
  });

  app.get('/metrics', async (_request, reply) => {
    const body = await d.metrics.registry.metrics();
    return reply.header('content-type', d.metrics.registry.contentType).send(body);
  });

  return app;
}
