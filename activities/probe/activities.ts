// Probe activities: steady-state gate, circuit-breaker watch, time-to-recovery.
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import {
  awaitRecovery as measureRecovery, steadyState, watchUntilDown,
  type BreakerTrip, type RecoveryInput, type RecoveryMeasurement, type SteadyStateInput, type SteadyStateResult, type WatchInput,
} from './probe.ts';

export async function checkSteadyState(input: SteadyStateInput): Promise<SteadyStateResult> {
  const ctx = Context.current();
  const result = await steadyState(input, (r) => ctx.heartbeat({ last: r.ok ? 'ok' : r.error }), ctx.cancellationSignal);
  if (!result.healthy) {
    throw ApplicationFailure.create({
      type: 'SteadyStateNotReached',
      nonRetryable: true,
      message: `${input.url} was not healthy (${input.healthyProbes} good probes in a row) within ${input.timeoutMs} ms: ${result.last_error ?? 'no healthy streak'}`,
      details: [result],
    });
  }
  return result;
}

export async function awaitRecovery(input: RecoveryInput): Promise<RecoveryMeasurement> {
  const ctx = Context.current();
  return measureRecovery(input, (r) => ctx.heartbeat({ last: r.ok ? 'ok' : r.error }), ctx.cancellationSignal);
}

/**
 * Long-running: heartbeats every probe (so cancellation reaches it and a new
 * attempt resumes the down-since clock), returns when the breaker trips.
 */
export async function watchHealth(input: WatchInput): Promise<BreakerTrip | null> {
  const ctx = Context.current();
  const previous = ctx.info.heartbeatDetails as { downSince: number | null } | undefined;
  return watchUntilDown({ ...input, downSince: previous?.downSince ?? input.downSince ?? null },
    (downSince, r) => ctx.heartbeat({ downSince, last: r.ok ? 'ok' : r.error }), ctx.cancellationSignal);
}

export { sampleRss } from './rss.ts';
