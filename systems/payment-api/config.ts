// The payment API's settings, from the environment (the stack launches it with
// these) or passed directly (tests start it in-process).
import { z } from 'zod';
import { activeDefects, defectsOf, parseDefects, type DefectName } from '../defects.ts';

export interface PaymentApiConfig {
  host: string;
  port: number;
  databaseUrl: string;
  /** Fast path only; may be absent, down or flushed. */
  redisUrl: string | null;
  kafkaBrokers: string[];
  /** http://host:port of the Stripe emulator; null means real Stripe (needs a real key). */
  stripeEmulatorUrl: string | null;
  stripeApiKey: string;
  /**
   * 'on_create' (default): create with confirm=true, Stripe's one-step server-side flow:
   * one call, one key, and no window where an intent exists unconfirmed. 'separate':
   * PaymentIntent create, then confirm (two calls, the confirm key derived from the
   * request's), for integrations that must confirm in a second step.
   */
  stripeConfirm: 'separate' | 'on_create';
  /** Per Stripe request. */
  stripeTimeoutMs: number;
  /** Total time a request may spend retrying Stripe before it answers 503. */
  stripeRetryBudgetMs: number;
  /** How long a request waits for an in-flight request with the same key before 409. */
  inFlightWaitMs: number;
  dbPoolMax: number;
  /** Connections opened at start and kept open when idle: a burst must not wait for new backends. */
  dbPoolMin: number;
  /** Most payments written by one claim statement (group commit); 1 writes each on its own. */
  dbClaimBatch: number;
  /** Claim statements in flight at once. */
  dbClaimConcurrency: number;
  /** How long start-up keeps retrying a database that refuses connections or is still starting (57P03). */
  startupDbWaitMs: number;
  maxAmountCents: number;
  currencies: string[];
  /** Run the outbox relay in this process. */
  relay: boolean;
  relayBatch: number;
  relayIdleMs: number;
  /**
   * Least time between the starts of two relay batches when the last one was not full:
   * commits arriving meanwhile share one batch (one PostgreSQL and one Kafka round of
   * work), instead of a batch per commit at low and middle rates.
   */
  relayLingerMs: number;
  defects: Set<DefectName>;
  logLevel: string;
}

/** Common ISO 4217 codes Stripe settles in; narrow or widen with CURRENCIES. */
export const defaultCurrencies = ['usd', 'eur', 'gbp', 'jpy', 'cad', 'aud', 'nzd', 'chf', 'sek', 'nok', 'dkk', 'pln', 'czk', 'huf',
  'ron', 'bgn', 'isk', 'try', 'ils', 'aed', 'sar', 'inr', 'sgd', 'hkd', 'cny', 'krw', 'twd', 'thb', 'myr', 'php', 'idr', 'mxn',
  'brl', 'clp', 'cop', 'pen', 'zar', 'ngn', 'kes', 'egp'];

// Defaults live in resolveConfig only: the environment says what was set, nothing more
// (a default written in both places drifted once: DB_POOL_MIN 40 here, 16 there).
const envSchema = z.object({
  PAYMENT_API_HOST: z.string().optional(),
  // The process listens on a known port; in-process instances (tests) default to any free port.
  PAYMENT_API_PORT: z.coerce.number().int().min(0).max(65535).default(8000),
  DATABASE_URL: z.string().min(1),
  REDIS_URL: z.string().optional(),
  KAFKA_BROKERS: z.string().min(1),
  STRIPE_EMULATOR_URL: z.string().url().optional(),
  STRIPE_API_KEY: z.string().optional(),
  STRIPE_CONFIRM: z.enum(['separate', 'on_create']).optional(),
  STRIPE_TIMEOUT_MS: z.coerce.number().int().positive().optional(),
  STRIPE_RETRY_BUDGET_MS: z.coerce.number().int().positive().optional(),
  IN_FLIGHT_WAIT_MS: z.coerce.number().int().positive().optional(),
  DB_POOL_MAX: z.coerce.number().int().positive().optional(),
  DB_POOL_MIN: z.coerce.number().int().nonnegative().optional(),
  DB_CLAIM_BATCH: z.coerce.number().int().positive().optional(),
  DB_CLAIM_CONCURRENCY: z.coerce.number().int().positive().optional(),
  STARTUP_DB_WAIT_MS: z.coerce.number().int().nonnegative().optional(),
  MAX_AMOUNT_CENTS: z.coerce.number().int().positive().optional(),
  CURRENCIES: z.string().optional(),
  OUTBOX_RELAY: z.enum(['on', 'off']).default('on'),
  OUTBOX_BATCH: z.coerce.number().int().positive().optional(),
  OUTBOX_IDLE_MS: z.coerce.number().int().positive().optional(),
  OUTBOX_LINGER_MS: z.coerce.number().int().nonnegative().optional(),
  ORDEAL_DEFECTS: z.string().optional(),
  LOG_LEVEL: z.string().optional(),
});

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): PaymentApiOptions {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n');
    throw new Error(`payment-api: invalid environment:\n${problems}`);
  }
  const e = parsed.data;
  return {
    host: e.PAYMENT_API_HOST,
    port: e.PAYMENT_API_PORT,
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL ?? null,
    kafkaBrokers: e.KAFKA_BROKERS.split(',').map((s) => s.trim()).filter(Boolean),
    stripeEmulatorUrl: e.STRIPE_EMULATOR_URL ?? null,
    ...(e.STRIPE_API_KEY ? { stripeApiKey: e.STRIPE_API_KEY } : {}),
    stripeConfirm: e.STRIPE_CONFIRM,
    stripeTimeoutMs: e.STRIPE_TIMEOUT_MS,
    stripeRetryBudgetMs: e.STRIPE_RETRY_BUDGET_MS,
    inFlightWaitMs: e.IN_FLIGHT_WAIT_MS,
    dbPoolMax: e.DB_POOL_MAX,
    dbPoolMin: e.DB_POOL_MIN,
    startupDbWaitMs: e.STARTUP_DB_WAIT_MS,
    dbClaimBatch: e.DB_CLAIM_BATCH,
    dbClaimConcurrency: e.DB_CLAIM_CONCURRENCY,
    maxAmountCents: e.MAX_AMOUNT_CENTS,
    ...(e.CURRENCIES ? { currencies: e.CURRENCIES.split(',').map((s) => s.trim().toLowerCase()) } : {}),
    relay: e.OUTBOX_RELAY === 'on',
    relayBatch: e.OUTBOX_BATCH,
    relayIdleMs: e.OUTBOX_IDLE_MS,
    relayLingerMs: e.OUTBOX_LINGER_MS,
    defects: [...activeDefects('payment-api', env)],
    logLevel: e.LOG_LEVEL,
  };
}

export type PaymentApiOptions = Pick<PaymentApiConfig, 'databaseUrl' | 'kafkaBrokers'> &
  Partial<Omit<PaymentApiConfig, 'defects'>> & { defects?: readonly string[] };

/** Fills defaults and checks that the Stripe target makes sense. */
export function resolveConfig(o: PaymentApiOptions): PaymentApiConfig {
  const stripeEmulatorUrl = o.stripeEmulatorUrl ?? null;
  const stripeApiKey = o.stripeApiKey ?? (stripeEmulatorUrl ? 'sk_test_ordeal_emulator' : '');
  if (!stripeEmulatorUrl && !/^(sk|rk)_(test|live)_/.test(stripeApiKey)) {
    throw new Error('payment-api: no Stripe emulator address (STRIPE_EMULATOR_URL) and no real Stripe key (STRIPE_API_KEY=sk_test_...)');
  }
  return {
    host: o.host ?? '127.0.0.1',
    port: o.port ?? 0,
    databaseUrl: o.databaseUrl,
    redisUrl: o.redisUrl ?? null,
    kafkaBrokers: o.kafkaBrokers,
    stripeEmulatorUrl,
    stripeApiKey,
    stripeConfirm: o.stripeConfirm ?? 'on_create',
    stripeTimeoutMs: o.stripeTimeoutMs ?? 2000,
    stripeRetryBudgetMs: o.stripeRetryBudgetMs ?? 8000,
    inFlightWaitMs: o.inFlightWaitMs ?? 10000,
    dbPoolMax: o.dbPoolMax ?? 40,
    dbPoolMin: Math.min(o.dbPoolMin ?? 40, o.dbPoolMax ?? 40),
    startupDbWaitMs: o.startupDbWaitMs ?? 30000,
    dbClaimBatch: o.dbClaimBatch ?? 100,
    dbClaimConcurrency: o.dbClaimConcurrency ?? 4,
    maxAmountCents: o.maxAmountCents ?? 100_000_000,
    currencies: o.currencies ?? defaultCurrencies,
    relay: o.relay ?? true,
    relayBatch: o.relayBatch ?? 500,
    relayIdleMs: o.relayIdleMs ?? 100,
    relayLingerMs: o.relayLingerMs ?? 100,
    defects: new Set(defectsOf('payment-api', parseDefects(o.defects ?? []))),
    logLevel: o.logLevel ?? 'info',
  };
}
