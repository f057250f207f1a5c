// The ledger phase as a Temporal activity.
import { Context } from '@temporalio/activity';
import { environment } from '../environment/index.ts';
import { withOrdealDb } from '../environment/ordeal-db.ts';
import { persistLedger } from './persist.ts';
import type { LedgerRef, LedgerSpec } from './types.ts';

/** Ordeal's database out of reach for longer than a restart: a non-retryable OrdealDatabaseUnavailable (verdict ERROR). */
export async function generateLedger(input: { runId: string; spec: LedgerSpec }): Promise<LedgerRef> {
  const ctx = Context.current();
  // persistLedger is idempotent (it rewrites the run's rows and files), so it may start over.
  return withOrdealDb({ url: environment().ordealDbUrl, what: 'persisting the ledger', onWait: (attempt) => ctx.heartbeat({ waitingForOrdealDb: attempt }) },
    () => persistLedger({ ...input, onProgress: (written) => ctx.heartbeat({ written }) }));
}
