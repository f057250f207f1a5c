// The readable message of a failure that reached the workflow: an activity's failure
// wraps the error the activity threw, and that message is the one a person needs.
import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';

export function messageOf(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause) return messageOf(err.cause);
  return err instanceof Error ? err.message : String(err);
}

/** The type an activity gave its failure (ApplicationFailure.type), or null. */
export function failureTypeOf(err: unknown): string | null {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure ? cause.type ?? null : null;
}
