// The scenario phase as a Temporal activity: a bad scenario becomes a non-retryable
// failure whose message lists every problem by field path (visible in the Web UI),
// and whose details carry them as data (for the CLI and API).
import { ApplicationFailure } from '@temporalio/common';
import { formatProblems, validateScenario, type ResolveInput } from './resolve.ts';
import type { Scenario } from './schema.ts';

export const INVALID_SCENARIO = 'InvalidScenario';

export async function resolveScenario(input: ResolveInput): Promise<{ scenario: Scenario; source: string }> {
  const outcome = await validateScenario(input);
  if (!outcome.ok) {
    throw ApplicationFailure.create({
      type: INVALID_SCENARIO,
      nonRetryable: true,
      message: formatProblems(outcome.source, outcome.problems),
      details: [outcome.problems],
    });
  }
  return { scenario: outcome.scenario, source: outcome.source };
}
