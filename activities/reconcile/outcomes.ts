// Where reconciliation learns what the load phase was told about each message:
// the load engine's outcome log in Ordeal's own database (after redelivery, one
// final row per ledger entry), or any table with (message_id, outcome) rows.
import { readOutcomes } from '../load/outcomes.ts';
import type { OutcomeSource } from './engine.ts';
import type { OutcomeRecord, OutcomeStatus } from './types.ts';
import { columnIndex, queryBatches } from './sources/postgres.ts';

const statuses = new Set<string>(['acknowledged', 'failed', 'unknown']);

/** Anything else (a typo, a new status) is "no definitive answer": the strict reading. */
export function toOutcome(raw: unknown): OutcomeStatus {
  const s = String(raw).toLowerCase();
  if (s === 'acked' || s === 'ack') return 'acknowledged';
  return statuses.has(s) ? (s as OutcomeStatus) : 'unknown';
}

/** Streams `query` ($1 = run id; columns message_id and outcome) from a PostgreSQL database. */
export function sqlOutcomeSource(url: string, query: string, fetchSize = 50_000): OutcomeSource {
  return {
    async *outcomes(runId: string) {
      let idx: number[] | undefined;
      for await (const { rows, columns } of queryBatches({ url, text: query, values: [runId], fetchSize, what: 'the outcome log' })) {
        idx ??= columnIndex(columns, ['message_id', 'outcome'], 'the outcome log query');
        const [iId, iOutcome] = idx as [number, number];
        const batch: OutcomeRecord[] = new Array<OutcomeRecord>(rows.length);
        for (let i = 0; i < rows.length; i++) batch[i] = { message_id: String(rows[i]![iId]), outcome: toOutcome(rows[i]![iOutcome]) };
        yield batch;
      }
    },
  };
}

/** The load engine's outcome log (table load_outcomes in Ordeal's database), in ledger order. */
export function loadOutcomeSource(url?: string): OutcomeSource {
  return {
    async *outcomes(runId: string) {
      for await (const rows of readOutcomes(runId, { batchSize: 50_000, ...(url ? { url } : {}) })) {
        yield rows.map((r) => ({ message_id: r.message_id, outcome: toOutcome(r.status) }));
      }
    },
  };
}
