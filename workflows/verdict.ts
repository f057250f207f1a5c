// The verdict of a run from what its phases found. Pure (workflow-safe, no I/O).
//   ERROR   Ordeal could not do its job: a fault it could not revert, its own failure.
//   ABORTED a person, the circuit breaker or the deadline stopped the run.
//   FAIL    the system under test broke a promise (a failing class, a threshold, no recovery).
//   PASS    exactly-once held in every system of record and the thresholds held.
import type { Verdict } from '../activities/report/types.ts';

export interface VerdictInputs {
  /** A fault could not be reverted (it may still be active). */
  revertFailed: boolean;
  /** Ordeal's own failure ("<phase> failed: ..."), or null. */
  error: string | null;
  /** Why the run was cut short (abort signal, cancellation, breaker, deadline), or null when it ran to the end. */
  stopped: string | null;
  /** What the system under test got wrong: each makes the verdict FAIL. */
  failures: readonly string[];
  /** Context a reader needs (a capped fault, a slow drain); never changes the verdict. */
  notes: readonly string[];
  /** The reconciliation, or null when it did not run. */
  reconciled: { exactlyOnce: boolean } | null;
}

export interface VerdictDecision {
  verdict: Verdict;
  /** The error or the stop first, then the failures, then the notes. */
  reasons: string[];
}

export function decideVerdict(i: VerdictInputs): VerdictDecision {
  const failures = [...i.failures];
  // A reconciliation that failed without naming a class still fails the run, with a reason.
  if (!i.stopped && !i.error && i.reconciled && !i.reconciled.exactlyOnce && failures.length === 0) {
    failures.push('reconciliation: exactly-once does not hold');
  }
  const verdict: Verdict = i.revertFailed || i.error ? 'ERROR'
    : i.stopped ? 'ABORTED'
      : failures.length > 0 || !i.reconciled ? 'FAIL' : 'PASS';
  return { verdict, reasons: [...(i.error ? [i.error] : []), ...(i.stopped ? [i.stopped] : []), ...failures, ...i.notes] };
}
