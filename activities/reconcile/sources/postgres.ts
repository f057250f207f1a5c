// A PostgreSQL system of record: the scenario's query, streamed through a
// server-side cursor inside one read-only repeatable-read transaction, so memory
// stays bounded by fetch_size and every row comes from one consistent snapshot.
import { ApplicationFailure } from '@temporalio/common';
import pg from 'pg';
import type { RecordSink, RecordSource } from '../engine.ts';
import type { ReconcileSourceSpec } from '../types.ts';

type PostgresSpec = Extract<ReconcileSourceSpec, { source: 'postgres' }>;

/** A fixed SQLSTATE class means the query or the database is wrong: retrying cannot help. */
const PERMANENT_SQLSTATE = /^(42|22|3D|28|0A)/;

export interface CursorQuery {
  url: string;
  text: string;
  values: unknown[];
  fetchSize: number;
  signal?: AbortSignal;
  /** What is being read, for error messages. */
  what: string;
}

/** The query's rows, one FETCH at a time, with the result's column names. */
export async function* queryBatches(q: CursorQuery): AsyncGenerator<{ rows: unknown[][]; columns: string[] }> {
  const client = new pg.Client({ connectionString: q.url, application_name: 'ordeal-reconcile', connectionTimeoutMillis: 10_000 });
  const where = `${q.what} at ${redactUrl(q.url)}`;
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    throw new Error(`cannot connect to ${where}: ${(err as Error).message}`, { cause: err });
  }
  // A stuck server must not hang the activity past its abort: closing the
  // connection makes the pending FETCH reject.
  const onAbort = () => void client.end().catch(() => {});
  q.signal?.addEventListener('abort', onAbort, { once: true });
  let total = 0;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const text = q.text.trim().replace(/;+\s*$/, '');
    const values = /\$1(?!\d)/.test(text) ? q.values : [];
    await client.query({ text: `DECLARE ordeal_reconcile NO SCROLL CURSOR FOR ${text}`, values });
    for (let first = true; ; first = false) {
      if (q.signal?.aborted) throw q.signal.reason ?? new Error('aborted');
      const res = await client.query({ text: `FETCH FORWARD ${q.fetchSize} FROM ordeal_reconcile`, rowMode: 'array' });
      total += res.rows.length;
      // The first batch goes out even when empty, so that callers check the columns of an empty result too.
      if (res.rows.length > 0 || first) yield { rows: res.rows as unknown[][], columns: res.fields.map((f) => f.name) };
      if (res.rows.length < q.fetchSize) break;
    }
    await client.query('COMMIT');
  } catch (err) {
    if (q.signal?.aborted) throw q.signal.reason ?? err;
    const code = (err as { code?: string }).code;
    const message = `query on ${where} failed after ${total} rows: ${(err as Error).message}${code ? ` (SQLSTATE ${code})` : ''}`;
    if (code && PERMANENT_SQLSTATE.test(code)) throw ApplicationFailure.nonRetryable(message, 'ReconcileQueryError');
    throw new Error(message, { cause: err });
  } finally {
    q.signal?.removeEventListener('abort', onAbort);
    await client.end().catch(() => {});
  }
}

export function columnIndex(columns: string[], wanted: readonly string[], what: string): number[] {
  const idx = wanted.map((w) => columns.indexOf(w));
  const absent = wanted.filter((_, i) => idx[i]! < 0);
  if (absent.length > 0) {
    throw ApplicationFailure.nonRetryable(
      `${what} must return the columns ${wanted.join(', ')}; it returned ${columns.join(', ') || 'none'} (missing: ${absent.join(', ')})`,
      'ReconcileQueryError');
  }
  return idx;
}

export function postgresSource(spec: PostgresSpec, defaultUrl: string): RecordSource {
  const url = spec.url ?? defaultUrl;
  return {
    name: spec.name,
    kind: 'postgres',
    async read(runId: string, sink: RecordSink, signal: AbortSignal) {
      let idx: number[] | undefined;
      const batches = queryBatches({ url, text: spec.query, values: [runId], fetchSize: spec.fetch_size, signal, what: `reconcile source "${spec.name}"` });
      for await (const { rows, columns } of batches) {
        idx ??= columnIndex(columns, ['message_id', 'amount_cents', 'currency'], `the query of reconcile source "${spec.name}"`);
        const [iId, iAmount, iCurrency] = idx as [number, number, number];
        for (const row of rows) sink.add(String(row[iId]), Number(row[iAmount]), String(row[iCurrency]));
      }
    },
  };
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable url)';
  }
}
