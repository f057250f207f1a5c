// Persisting the ground-truth ledger before anything is sent: rows in Ordeal's own
// database (a PostgreSQL separate from the system under test, so a database fault
// never takes the ground truth with it) plus JSON and CSV artifacts for humans and
// other tools. Idempotent: a retried activity rewrites the same rows and files.
import { createWriteStream, mkdirSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import pg from 'pg';
import { reportsDir } from '../report/write.ts';
import { environment } from '../environment/index.ts';
import { ledgerSlice } from './generate.ts';
import type { LedgerEntry, LedgerRef, LedgerSpec } from './types.ts';

export const LEDGER_SCHEMA = `
CREATE TABLE IF NOT EXISTS ledger_runs (
  run_id      text PRIMARY KEY,
  spec        jsonb NOT NULL,
  count       integer NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS ledger_entries (
  run_id          text NOT NULL,
  seq             integer NOT NULL,
  message_id      text NOT NULL,
  idempotency_key text NOT NULL,
  amount_cents    bigint NOT NULL,
  currency        text NOT NULL,
  customer_id     text NOT NULL,
  PRIMARY KEY (run_id, seq)
);`;

/** Where a run's artifacts are written: beside its reports (ledger.json/.csv next to report.json). */
export function runArtifactsDir(runId: string): string {
  return join(reportsDir(), runId);
}

export interface PersistLedgerInput {
  runId: string;
  spec: LedgerSpec;
  /** Defaults to Ordeal's own database of the embedded stack. */
  databaseUrl?: string;
  artifactsDir?: string;
  /** Called every batch, so an activity can heartbeat. */
  onProgress?: (written: number) => void;
}

const BATCH = 5000;

export async function persistLedger(input: PersistLedgerInput): Promise<LedgerRef> {
  const { runId, spec } = input;
  const dir = input.artifactsDir ?? runArtifactsDir(runId);
  mkdirSync(dir, { recursive: true });
  const jsonPath = join(dir, 'ledger.json');
  const csvPath = join(dir, 'ledger.csv');
  const client = new pg.Client({ connectionString: input.databaseUrl ?? environment().ordealDbUrl, connectionTimeoutMillis: 5000 });
  await client.connect();
  const json = createWriteStream(jsonPath);
  const csv = createWriteStream(csvPath);
  const totals: Record<string, number> = {};
  try {
    await client.query(LEDGER_SCHEMA);
    await client.query('BEGIN');
    await client.query('DELETE FROM ledger_entries WHERE run_id = $1', [runId]);
    await client.query(
      `INSERT INTO ledger_runs (run_id, spec, count) VALUES ($1, $2, $3)
       ON CONFLICT (run_id) DO UPDATE SET spec = EXCLUDED.spec, count = EXCLUDED.count`,
      [runId, JSON.stringify(spec), spec.messages]);
    await write(json, '[\n');
    await write(csv, 'seq,message_id,idempotency_key,amount_cents,currency,customer_id\n');
    let batch: LedgerEntry[] = [];
    let written = 0;
    const flush = async () => {
      if (batch.length === 0) return;
      await client.query(
        `INSERT INTO ledger_entries (run_id, seq, message_id, idempotency_key, amount_cents, currency, customer_id)
         SELECT $1, * FROM unnest($2::int[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[])`,
        [runId, batch.map((e) => e.seq), batch.map((e) => e.message_id), batch.map((e) => e.idempotency_key),
          batch.map((e) => e.amount_cents), batch.map((e) => e.currency), batch.map((e) => e.customer_id)]);
      await write(json, batch.map((e) => (e.seq === 0 ? '  ' : ',\n  ') + JSON.stringify(e)).join(''));
      await write(csv, batch.map((e) => `${e.seq},${e.message_id},${e.idempotency_key},${e.amount_cents},${e.currency},${e.customer_id}\n`).join(''));
      written += batch.length;
      batch = [];
      input.onProgress?.(written);
    };
    for (const e of ledgerSlice(runId, spec, 0, spec.messages)) {
      totals[e.currency] = (totals[e.currency] ?? 0) + e.amount_cents;
      batch.push(e);
      if (batch.length >= BATCH) await flush();
    }
    await flush();
    await write(json, '\n]\n');
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw new Error(`persisting ledger of run ${runId} (${spec.messages} entries) failed: ${(err as Error).message}`, { cause: err });
  } finally {
    json.end();
    csv.end();
    await Promise.all([once(json, 'close'), once(csv, 'close')]);
    await client.end();
  }
  return { runId, count: spec.messages, seed: spec.seed, totalsByCurrency: totals, jsonPath, csvPath };
}

async function write(stream: NodeJS.WritableStream, chunk: string): Promise<void> {
  if (!stream.write(chunk)) await once(stream, 'drain');
}
