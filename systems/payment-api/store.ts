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

export function createPool(databaseUrl: string, max: number, lockTimeoutMs: number, min = 0): pg.Pool {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max,
    min,
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

/**
 * Opens the pool's `min` connections now. A backend costs a fork and an authentication
 * (through the proxy: several ms each); opened on demand they all land on the first
 * burst, which is when latency matters (the first seconds of a load phase).
 */
export async function warmPool(pool: pg.Pool, n: number): Promise<void> {
  const clients = await Promise.all(Array.from({ length: n }, () => pool.connect()));
  // A new backend's catalog caches are empty: its first statements on each table cost
  // several ms more. The pool hands out its most recently used connection first, so the
  // extra connections stay cold until a rate step needs them all at once; warm them now.
  await Promise.all(clients.map((c) => c.query(warmSql).catch(() => undefined)));
  for (const c of clients) c.release();
}

/** Plans a lookup on every table and index the request path touches (returns no rows). */
const warmSql = `SELECT 1 FROM payments WHERE id = '' OR idempotency_key = ''
  UNION ALL SELECT 1 FROM idempotency_keys WHERE key = ''
  UNION ALL SELECT 1 FROM outbox WHERE id = 0 AND sent_at IS NULL`;

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
  const r = await db.query({ name: 'payment-by-key', text: selectByKey, values: [key] });
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
  // Named: each connection parses and plans the statement once, not per payment.
  const r = await db.query({
    name: 'claim-payment',
    text: `WITH claim AS (
       INSERT INTO idempotency_keys (key, request_hash, payment_id) VALUES ($2, $13, $1)
       ON CONFLICT (key) DO NOTHING RETURNING payment_id),
     p AS (
       INSERT INTO payments (id, idempotency_key, message_id, test_run_id, amount_cents, currency, customer_id, status,
                             stripe_payment_intent_id, created_at)
       SELECT $1, $2, $3, $4, $5::bigint, $6, $7, $8, $9, $10::timestamptz FROM claim RETURNING id)
     INSERT INTO outbox (topic, message_key, payload) SELECT $11, $3, $12::jsonb FROM p RETURNING id`,
    values: [p.id, p.key, p.req.message_id, p.req.test_run_id, p.req.amount_cents, p.req.currency, p.req.customer_id, p.status,
      p.stripePaymentIntentId, p.createdAt, PAYMENTS_TOPIC, JSON.stringify(paymentEvent(p)), p.requestHash],
  });
  return r.rowCount === 1;
}

/**
 * The correct write for many payments at once: the same claim + payment + outbox
 * statement over arrays, so a batch costs one round trip and one commit. Atomic as a
 * whole (all claimed rows commit together, or nothing); per row, a key already claimed
 * is skipped exactly as in insertClaimedPayment. Keys are claimed in key order, so two
 * batches holding overlapping keys wait for each other instead of deadlocking. Returns
 * the ids of the payments that won their claim. The keys must be distinct.
 */
export async function insertClaimedPayments(db: pg.Pool | pg.PoolClient, ps: readonly NewPayment[]): Promise<Set<string>> {
  const r = await db.query<{ id: string }>({
    name: 'claim-payments',
    text: `WITH input AS (
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::text[],
                            $9::text[], $10::timestamptz[], $11::text[], $12::text[])
         AS t(id, key, message_id, test_run_id, amount_cents, currency, customer_id, status, pi, created_at, request_hash, payload)),
     claim AS (
       INSERT INTO idempotency_keys (key, request_hash, payment_id)
       SELECT key, request_hash, id FROM input ORDER BY key
       ON CONFLICT (key) DO NOTHING RETURNING payment_id),
     p AS (
       INSERT INTO payments (id, idempotency_key, message_id, test_run_id, amount_cents, currency, customer_id, status,
                             stripe_payment_intent_id, created_at)
       SELECT i.id, i.key, i.message_id, i.test_run_id, i.amount_cents, i.currency, i.customer_id, i.status, i.pi, i.created_at
       FROM input i JOIN claim c ON c.payment_id = i.id RETURNING id, message_id),
     o AS (
       INSERT INTO outbox (topic, message_key, payload)
       SELECT $13, i.message_id, i.payload::jsonb FROM input i JOIN p ON p.id = i.id ORDER BY i.created_at, i.id)
     SELECT id FROM p`,
    values: [
      ps.map((p) => p.id), ps.map((p) => p.key), ps.map((p) => p.req.message_id), ps.map((p) => p.req.test_run_id),
      ps.map((p) => p.req.amount_cents), ps.map((p) => p.req.currency), ps.map((p) => p.req.customer_id), ps.map((p) => p.status),
      ps.map((p) => p.stripePaymentIntentId), ps.map((p) => p.createdAt), ps.map((p) => p.requestHash),
      ps.map((p) => JSON.stringify(paymentEvent(p))), PAYMENTS_TOPIC,
    ],
  });
  return new Set(r.rows.map((row) => row.id));
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

/**
 * Runs `work` in one transaction on a pooled connection. A connection the database
 * dropped is destroyed on release, not handed to the next request.
 */
export async function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    if (isDatabaseUnavailable(err)) broken = err as Error;
    await rollbackQuietly(client);
    throw err;
  } finally {
    client.release(broken);
  }
}

async function rollbackQuietly(client: pg.PoolClient): Promise<void> {
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

/** The statement was chosen as a deadlock victim (40P01) and rolled back. */
export const isDeadlock = (err: unknown) => (err as { code?: unknown } | null)?.code === '40P01';
