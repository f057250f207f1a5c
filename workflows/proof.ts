// What a run proves, and whether a run cut short still reconciles what was
// acknowledged (a partial proof). Pure (workflow-safe, no I/O).
import type { ReconcileResult } from '../activities/reconcile/types.ts';
import type { ProofSummary } from '../activities/report/types.ts';

export interface PartialProofInputs {
  /** The run was cut short: abort signal, UI cancellation, breaker or deadline. */
  stopped: boolean;
  /** A fault may still be active (its revert failed): the system is not back to itself. */
  revertFailed: boolean;
  /** Ordeal's own failure ended the run. */
  error: string | null;
  /** The ledger was persisted and the load phase began: something may have been sent. */
  loadStarted: boolean;
}

export type PartialProofPlan = { attempt: true } | { attempt: false; why: string };

/**
 * A run cut short reconciles what was acknowledged once every fault is reverted, and
 * only then: while a fault may still be active, the systems of record would show the
 * fault, not the system. A run that ended on its own has the full proof (or none).
 */
export function partialProofPlan(i: PartialProofInputs): PartialProofPlan {
  if (i.revertFailed) return { attempt: false, why: 'a fault could not be reverted, so the systems of record may still be disturbed' };
  if (i.error) return { attempt: false, why: `Ordeal failed (${i.error})` };
  // A run that ended on its own reconciled in its reconcile phase, or failed before it.
  if (!i.stopped) return { attempt: false, why: 'the run ended before its reconcile phase (see the reasons)' };
  if (!i.loadStarted) return { attempt: false, why: 'the run stopped before anything was sent' };
  return { attempt: true };
}

const sourcesOf = (r: ReconcileResult) => r.sources.map((s) => s.source).join(', ');

/**
 * The report's one-line account of what was proven. `notReconciled`: why there is no
 * reconciliation; `neverSent`: entries the load never sent (a partial proof says so).
 */
export function proofSummary(reconciled: ReconcileResult | null, notReconciled: string, neverSent = 0): ProofSummary {
  if (!reconciled) return { kind: 'none', detail: `nothing was reconciled: ${notReconciled}` };
  const held = reconciled.exactlyOnce ? 'exactly-once held' : 'exactly-once broken (see the reasons)';
  if (reconciled.scope !== 'acknowledged') {
    return { kind: 'full', detail: `all ${reconciled.ledgerCount} ledger entries reconciled against ${sourcesOf(reconciled)} after redelivery: ${held}` };
  }
  const acknowledged = reconciled.outcomes.acknowledged;
  const unanswered = Math.max(0, reconciled.ledgerCount - acknowledged - neverSent);
  return {
    kind: 'partial',
    detail: `the run was cut short; the ${acknowledged} acknowledged entries were reconciled against ${sourcesOf(reconciled)}: ${held}. `
      + `Not judged: ${neverSent} entries never sent, ${unanswered} sent without a definitive answer (not redelivered).`,
    acknowledged, never_sent: neverSent, unanswered,
  };
}
