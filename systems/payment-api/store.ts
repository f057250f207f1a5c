// PostgreSQL: the source of truth. A payment's idempotency claim, the payment row
// and its outbox row are written in one transaction; the claim's primary key is
// what makes "exactly one payment per key" hold under any concurrency.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { PAYMENTS_TOPIC, type PaymentEvent } from '../contracts.ts';
import type { PaymentRequest } from './validation.ts';

export interface PaymentRow {
  id: string;
  idempotency_key: string;
  message_id: string;
  test_run_id: string;
  amount_cents: number;
  currency: string;
  customer_id: string;
  status: string;
  stripe_payment_intent_id: string | null;
  created_at: string;
}

export interface StoredPayment {
  payment: PaymentRow;
  requestHash: string;
}

export const schemaSql = `
CREATE TABLE IF NOT EXISTS payments (
  id text PRIMARY KEY,
  idempotency_key text NOT NULL,
  message_id text NOT NULL,
  test_run_id text NOT NULL,
  amount_cents bigint NOT NULL CHECK (amount_cents > 0),
  currency text NOT NULL,
  customer_id text NOT NULL,
  status text NOT NULL,
  stripe_payment_intent_id text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS payments_test_run_id_idx ON payments (test_run_id);
CREATE INDEX IF NOT EXISTS payments_idempotency_key_idx ON payments (idempotency_key);
-- The claim: one row per key, inserted in the payment's transaction. A concurrent
-- insert of the same key waits for that transaction, then sees the conflict.
CREATE TABLE IF NOT EXISTS idempotency_keys (
  key text PRIMARY KEY,
  request_hash text NOT NULL,
  payment_id text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS outbox (
  id bigserial PRIMARY KEY,
  topic text NOT NULL,
  message_key text NOT NULL,
  payload jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  sent_at timestamptz
);
CREATE INDEX IF NOT EXISTS outbox_unsent_idx ON outbox (id) WHERE sent_at IS NULL;
`;

export function createPool(databaseUrl: string, max: number, lockTimeoutMs: number): pg.Pool {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max,
    // Bounds the wait behind another transaction holding the same idempotency key.
    options: `-c lock_timeout=${Math.trunc(lockTimeoutMs)}`,
    // Also bounds the wait for a free pooled connection: an exhausted pool answers 503, not a hang.
    connectionTimeoutMillis: 3000,
    idleTimeoutMillis: 30000,
    // A blackholed database must not hang requests forever.
    query_timeout: 15000,
    keepAlive: true,
    application_name: 'payment-api',
  });
  // An idle client losing its connection (database restart) must not crash the process.
  pool.on('error', () => {});
  // A checked-out client whose connection dies emits 'error' too; the query in
  // flight fails with it, so this listener only keeps the process alive.
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}

export async function migrate(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    // Several API instances may start at once.
    await client.query('SELECT pg_advisory_lock(724301)');
    try {
      await client.query(schemaSql);
    } finally {
      await client.query('SELECT pg_advisory_unlock(724301)');
    }
  } finally {
    client.release();
  }
}

export const newPaymentId = () => `pay_${randomUUID().replaceAll('-', '')}`;

const selectByKey = `
SELECT k.request_hash, p.id, p.idempotency_key, p.message_id, p.test_run_id, p.amount_cents,
       p.currency, p.customer_id, p.status, p.stripe_payment_intent_id, p.created_at
FROM idempotency_keys k JOIN payments p ON p.id = k.payment_id WHERE k.key = $1`;

const paymentColumns = `id, idempotency_key, message_id, test_run_id, amount_cents, currency, customer_id,
  status, stripe_payment_intent_id, created_at`;

function toStored(row: Record<string, unknown>): StoredPayment {
  const { request_hash, ...rest } = row;
  return { requestHash: String(request_hash), payment: normalise(rest) };
}

function normalise(row: Record<string, unknown>): PaymentRow {
  return { ...(row as unknown as PaymentRow), amount_cents: Number(row.amount_cents), created_at: new Date(row.created_at as string).toISOString() };
}

export async function findByKey(db: pg.Pool | pg.PoolClient, key: string): Promise<StoredPayment | null> {
  const r = await db.query(selectByKey, [key]);
  return r.rows[0] ? toStored(r.rows[0]) : null;
}

export async function findById(db: pg.Pool, id: string): Promise<PaymentRow | null> {
  const r = await db.query(`SELECT ${paymentColumns} FROM payments WHERE id = $1`, [id]);
  return r.rows[0] ? normalise(r.rows[0]) : null;
}

export interface NewPayment {
  id: string;
  key: string;
  requestHash: string;
  req: PaymentRequest;
  stripePaymentIntentId: string | null;
  status: string;
  createdAt: string;
}

export function paymentEvent(p: NewPayment): PaymentEvent {
  return {
    message_id: p.req.message_id,
    payment_id: p.id,
    test_run_id: p.req.test_run_id,
    amount_cents: p.req.amount_cents,
    currency: p.req.currency,
    customer_id: p.req.customer_id,
    stripe_payment_intent_id: p.stripePaymentIntentId,
    created_at: p.createdAt,
  };
}

export function rowOf(p: NewPayment): PaymentRow {
  return {
    id: p.id, idempotency_key: p.key, message_id: p.req.message_id, test_run_id: p.req.test_run_id,
    amount_cents: p.req.amount_cents, currency: p.req.currency, customer_id: p.req.customer_id, status: p.status,
    stripe_payment_intent_id: p.stripePaymentIntentId, created_at: p.createdAt,
  };
}

/**
 * The correct write: claim the key, insert the payment and its outbox event, as ONE
 * statement (atomic without an explicit transaction, one round trip). Returns false
 * when the key was already claimed; a claim by a transaction still open is waited for
 * (up to the connection's lock_timeout), then seen as the conflict it becomes.
 */
export async function insertClaimedPayment(db: pg.Pool | pg.PoolClient, p: NewPayment): Promise<boolean> {
  const r = await db.query(
    `WITH claim AS (
       INSERT INTO idempotency_keys (key, request_hash, payment_id) VALUES ($2, $13, $1)
       ON CONFLICT (key) DO NOTHING RETURNING payment_id),
     p AS (
       INSERT INTO payments (id, idempotency_key, message_id, test_run_id, amount_cents, currency, customer_id, status,
                             stripe_payment_intent_id, created_at)
       SELECT $1, $2, $3, $4, $5::bigint, $6, $7, $8, $9, $10::timestamptz FROM claim RETURNING id)
     INSERT INTO outbox (topic, message_key, payload) SELECT $11, $3, $12::jsonb FROM p RETURNING id`,
    [p.id, p.key, p.req.message_id, p.req.test_run_id, p.req.amount_cents, p.req.currency, p.req.customer_id, p.status,
      p.stripePaymentIntentId, p.createdAt, PAYMENTS_TOPIC, JSON.stringify(paymentEvent(p)), p.requestHash],
  );
  return r.rowCount === 1;
}

/** Inserts the payment and its outbox event (one statement; the caller owns the transaction). */
export async function insertPaymentAndOutbox(client: pg.PoolClient, p: NewPayment): Promise<void> {
  await client.query(
    `WITH p AS (
       INSERT INTO payments (id, idempotency_key, message_id, test_run_id, amount_cents, currency, customer_id, status,
                             stripe_payment_intent_id, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id)
     INSERT INTO outbox (topic, message_key, payload) SELECT $11, $3, $12::jsonb FROM p`,
    [p.id, p.key, p.req.message_id, p.req.test_run_id, p.req.amount_cents, p.req.currency, p.req.customer_id, p.status,
      p.stripePaymentIntentId, p.createdAt, PAYMENTS_TOPIC, JSON.stringify(paymentEvent(p))],
  );
}

export async function rollbackQuietly(client: pg.PoolClient): Promise<void> {
  try {
    await client.query('ROLLBACK');
  } catch {
    /* the connection is gone; the server rolls back on its own */
  }
}

/** True for errors that mean "the database is unreachable or restarting" (answer 503, retry later). */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === '53300' || code === '53400') return true;
    if (['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH'].includes(code)) return true;
  }
  return /Connection terminated|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error|not queryable|connection ended|ECONNREFUSED|ECONNRESET/i
    .test(err.message);
}

/** lock_timeout expired: another transaction holds the same key. */
export const isLockTimeout = (err: unknown) => (err as { code?: unknown } | null)?.code === '55P03';
