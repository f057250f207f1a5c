import { Context } from '@temporalio/activity';
import { environment } from '../environment/index.ts';
import { drain, type DrainResult } from './drain.ts';

/** Heartbeats on a timer as well as on every lag reading: a hung broker must not look like a dead worker. */
const HEARTBEAT_MS = 5000;

/** Drain phase: brokers default to the system's (the scenario's resolution fills them from its system file). */
export async function drainPipelines(input: { brokers?: string[]; groups: string[]; timeoutMs: number }): Promise<DrainResult> {
  const ctx = Context.current();
  const brokers = input.brokers ?? environment().defaultSystem().defaults?.drain?.brokers;
  if (!brokers?.length) throw new Error('drain: no Kafka brokers (set drain.brokers in the scenario or defaults.drain.brokers in its system file)');
  let last: Record<string, number> = {};
  const beat = setInterval(() => ctx.heartbeat(last), HEARTBEAT_MS);
  try {
    return await drain({ ...input, brokers }, (lag) => { last = lag; ctx.heartbeat(lag); }, ctx.cancellationSignal);
  } finally {
    clearInterval(beat);
  }
}
