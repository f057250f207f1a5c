// Reconciliation: ground truth (the deterministic ledger + the load phase's
// outcome log) against every configured system of record.
import { createReconcileActivities } from './reconcile.ts';

export const reconcileActivities = createReconcileActivities();
export { createReconcileActivities, buildSource, DEFAULT_OUTCOME_QUERY, type ReconcileDeps } from './reconcile.ts';
export { reconcileStreams, LedgerIndex, formatMoney, type OutcomeSource, type RecordSource, type RecordSink } from './engine.ts';
export { sqlOutcomeSource, toOutcome } from './outcomes.ts';
export * from './types.ts';
