// Where reconciliation learns what the load phase was told about each message.
// The load engine keeps its outcome log in Ordeal's own database; any table with
// (message_id, outcome) rows for a run can serve, through a query.
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
