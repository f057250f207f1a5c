// The per-message outcome log, in Ordeal's own PostgreSQL (never the system under
// test's): one final row per ledger entry, written in batches by the shard that sent
// it, read back by resumed shards, redelivery and reconciliation on any worker.
import pg from 'pg';
import { environment } from '../environment/index.ts';
import { decodeSamples, encodeSamples, type EntryOutcome } from './stats.ts';
import type { OutcomeFields, OutcomeRow } from './types.ts';

const pools = new Map<string, Promise<pg.Pool>>();

const SCHEMA = `
CREATE TABLE IF NOT EXISTS load_outcomes (
  run_id          text    NOT NULL,
  seq             integer NOT NULL,
  shard           integer NOT NULL,
  message_id      text    NOT NULL,
  idempotency_key text    NOT NULL,
  status          text    NOT NULL CHECK (status IN ('acknowledged', 'failed', 'unknown')),
  payment_id      text,
  attempts        integer NOT NULL,
  error_class     text,
  http_status     integer,
  -- Flush batch of the shard that wrote the row: a resumed shard folds rows newer than its last heartbeat.
  batch           integer NOT NULL,
  -- Request samples t:c:u:cls;... so a resumed shard rebuilds its histograms exactly.
  samples         text    NOT NULL DEFAULT '',
  dropped         boolean NOT NULL DEFAULT false,
  mismatch        jsonb,
  redelivered     boolean NOT NULL DEFAULT false,
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, seq)
);
CREATE INDEX IF NOT EXISTS load_outcomes_shard ON load_outcomes (run_id, shard, batch);
`;

/** A pool on Ordeal's database with the outcome table in place (created once per process). */
export function outcomeDb(url = environment().ordealDbUrl): Promise<pg.Pool> {
  let p = pools.get(url);
  if (!p) {
    p = (async () => {
      const pool = new pg.Pool({ connectionString: url, max: 8, connectionTimeoutMillis: 5000 });
      pool.on('error', () => { /* idle client lost (db restart): the next query reconnects */ });
      const c = await pool.connect();
      try {
        // Two workers creating the table at once would race on the catalog; serialise.
        await c.query('SELECT pg_advisory_lock(7215001)');
        try { await c.query(SCHEMA); } finally { await c.query('SELECT pg_advisory_unlock(7215001)'); }
      } finally {
        c.release();
      }
      return pool;
    })();
    p.catch(() => pools.delete(url));
    pools.set(url, p);
  }
  return p;
}

export async function closeOutcomeDbs(): Promise<void> {
  const all = [...pools.values()];
  pools.clear();
  await Promise.all(all.map(async (p) => (await p.catch(() => undefined))?.end()));
}

/** Writes final outcomes (upsert: a row is rewritten only by redelivery or an identical retry of this batch). */
export async function writeOutcomes(pool: pg.Pool, runId: string, shard: number, batch: number, rows: EntryOutcome[]): Promise<void> {
  if (!rows.length) return;
  await pool.query(
    `INSERT INTO load_outcomes (run_id, seq, shard, message_id, idempotency_key, status, payment_id, attempts, error_class,
        http_status, batch, samples, dropped, mismatch)
     SELECT $1, u.seq, $2, u.message_id, u.idempotency_key, u.status, u.payment_id, u.attempts, u.error_class, u.http_status, $3,
        u.samples, u.dropped, u.mismatch::jsonb
     FROM unnest($4::int[], $5::text[], $6::text[], $7::text[], $8::text[], $9::int[], $10::text[], $11::int[], $12::text[],
        $13::bool[], $14::text[])
       AS u(seq, message_id, idempotency_key, status, payment_id, attempts, error_class, http_status, samples, dropped, mismatch)
     ON CONFLICT (run_id, seq) DO UPDATE SET status = EXCLUDED.status, payment_id = EXCLUDED.payment_id,
        attempts = EXCLUDED.attempts, error_class = EXCLUDED.error_class, http_status = EXCLUDED.http_status,
        batch = EXCLUDED.batch, samples = EXCLUDED.samples, dropped = EXCLUDED.dropped, mismatch = EXCLUDED.mismatch, updated_at = now()`,
    [runId, shard, batch,
      rows.map((r) => r.seq), rows.map((r) => r.message_id), rows.map((r) => r.idempotency_key), rows.map((r) => r.status),
      rows.map((r) => r.payment_id), rows.map((r) => r.attempts), rows.map((r) => r.error_class), rows.map((r) => r.http_status),
      rows.map((r) => encodeSamples(r.samples)), rows.map((r) => r.dropped), rows.map((r) => (r.mismatch ? JSON.stringify(r.mismatch) : null))],
  );
}

interface StoredRow extends OutcomeFields { batch: number; samples: string; dropped: boolean; mismatch: EntryOutcome['mismatch'] | null }

/** Rows a previous attempt of this shard wrote at or above `fromSeq` (resume). */
export async function shardRowsFrom(pool: pg.Pool, runId: string, fromSeq: number, toSeq: number): Promise<(EntryOutcome & { batch: number })[]> {
  const res = await pool.query<StoredRow>(
    `SELECT seq, batch, message_id, idempotency_key, status, payment_id, attempts, error_class, http_status, samples, dropped, mismatch
     FROM load_outcomes WHERE run_id = $1 AND seq >= $2 AND seq < $3 ORDER BY seq`, [runId, fromSeq, toSeq]);
  return res.rows.map((r) => ({ seq: r.seq, batch: r.batch, message_id: r.message_id, idempotency_key: r.idempotency_key, status: r.status,
    payment_id: r.payment_id, attempts: r.attempts, error_class: r.error_class, http_status: r.http_status,
    samples: decodeSamples(r.samples), dropped: r.dropped, ...(r.mismatch ? { mismatch: r.mismatch } : {}) }));
}

export async function maxBatch(pool: pg.Pool, runId: string, shard: number): Promise<number> {
  const res = await pool.query<{ m: number | null }>('SELECT max(batch) AS m FROM load_outcomes WHERE run_id = $1 AND shard = $2', [runId, shard]);
  return res.rows[0]?.m ?? 0;
}

/** Every final outcome of a run, in ledger order, in batches (keyset pagination: constant memory). */
export async function* readOutcomes(runId: string, opts: { batchSize?: number; url?: string; fromSeq?: number; toSeq?: number } = {}): AsyncGenerator<OutcomeRow[]> {
  const pool = await outcomeDb(opts.url);
  const size = opts.batchSize ?? 10_000;
  let after = (opts.fromSeq ?? 0) - 1;
  const to = opts.toSeq ?? 2 ** 31 - 1;
  for (;;) {
    const res = await pool.query<OutcomeRow>(
      `SELECT run_id, seq, shard, message_id, idempotency_key, status, payment_id, attempts, error_class, http_status, redelivered
       FROM load_outcomes WHERE run_id = $1 AND seq > $2 AND seq < $3 ORDER BY seq LIMIT $4`, [runId, after, to, size]);
    if (!res.rows.length) return;
    yield res.rows;
    after = res.rows[res.rows.length - 1]!.seq;
    if (res.rows.length < size) return;
  }
}

/** Redelivery's verdict for one entry: the final outcome replaces the first one. */
export async function recordRedelivery(pool: pg.Pool, runId: string, rows: (OutcomeFields & { shard: number })[]): Promise<void> {
  if (!rows.length) return;
  await pool.query(
    `INSERT INTO load_outcomes (run_id, seq, shard, message_id, idempotency_key, status, payment_id, attempts, error_class, http_status, batch, redelivered)
     SELECT $1, u.seq, u.shard, u.message_id, u.idempotency_key, u.status, u.payment_id, u.attempts, u.error_class, u.http_status, 0, true
     FROM unnest($2::int[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int[], $9::text[], $10::int[])
       AS u(seq, shard, message_id, idempotency_key, status, payment_id, attempts, error_class, http_status)
     ON CONFLICT (run_id, seq) DO UPDATE SET status = EXCLUDED.status,
        payment_id = COALESCE(EXCLUDED.payment_id, load_outcomes.payment_id),
        attempts = load_outcomes.attempts + EXCLUDED.attempts, error_class = EXCLUDED.error_class,
        http_status = EXCLUDED.http_status, redelivered = true, updated_at = now()`,
    [runId, rows.map((r) => r.seq), rows.map((r) => r.shard), rows.map((r) => r.message_id), rows.map((r) => r.idempotency_key),
      rows.map((r) => r.status), rows.map((r) => r.payment_id), rows.map((r) => r.attempts), rows.map((r) => r.error_class),
      rows.map((r) => r.http_status)],
  );
}
