// The ledger phase as a Temporal activity.
import { Context } from '@temporalio/activity';
import { persistLedger } from './persist.ts';
import type { LedgerRef, LedgerSpec } from './types.ts';

export async function generateLedger(input: { runId: string; spec: LedgerSpec }): Promise<LedgerRef> {
  const ctx = Context.current();
  return persistLedger({ ...input, onProgress: (written) => ctx.heartbeat({ written }) });
}
