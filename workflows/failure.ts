// The readable message of a failure that reached the workflow: an activity's failure
// wraps the error the activity threw, and that message is the one a person needs.
import { ActivityFailure } from '@temporalio/workflow';

export function messageOf(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause) return messageOf(err.cause);
  return err instanceof Error ? err.message : String(err);
}
