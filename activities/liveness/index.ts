// Liveness of short activities that have no progress of their own to report. They are
// declared with a heartbeat timeout of a few seconds (workflows/profiles.ts) and beat
// every second while they work: when the worker running one dies, Temporal retries the
// call elsewhere within seconds instead of waiting out its start-to-close timeout (which
// held a killed database down ~30 s past its fault duration in a crash trial).
import { Context } from '@temporalio/activity';

const HEARTBEAT_MS = 1000;

/** Runs `work` inside the current activity, heartbeating every second until it settles. */
export async function heartbeating<T>(work: () => Promise<T>): Promise<T> {
  const ctx = Context.current();
  ctx.heartbeat();
  const beat = setInterval(() => ctx.heartbeat(), HEARTBEAT_MS);
  try {
    return await work();
  } finally {
    clearInterval(beat);
  }
}
