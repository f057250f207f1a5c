// Reconciliation: ground truth (the deterministic ledger + the load phase's
// outcome log) against every configured system of record.
import { createReconcileActivities } from './reconcile.ts';

export const reconcileActivities = createReconcileActivities();
export { createReconcileActivities, buildSource, type ReconcileDeps } from './reconcile.ts';
export { formatMoney } from './money.ts';
export { reconcileStreams, LedgerIndex, type OutcomeSource, type RecordSource, type RecordSink } from './engine.ts';
export { loadOutcomeSource, sqlOutcomeSource, toOutcome } from './outcomes.ts';
export * from './types.ts';
