import { Context } from '@temporalio/activity';
import { loadStackConfig } from '../../scripts/stack/config.ts';
import { drain, type DrainResult } from './drain.ts';

/** Heartbeats on a timer as well as on every lag reading: a hung broker must not look like a dead worker. */
const HEARTBEAT_MS = 5000;

/** Drain phase: brokers default to the embedded stack's Kafka (through its proxy). */
export async function drainPipelines(input: { brokers?: string[]; groups: string[]; timeoutMs: number }): Promise<DrainResult> {
  const ctx = Context.current();
  const brokers = input.brokers ?? [`127.0.0.1:${loadStackConfig().ports.kafka_proxy}`];
  let last: Record<string, number> = {};
  const beat = setInterval(() => ctx.heartbeat(last), HEARTBEAT_MS);
  try {
    return await drain({ ...input, brokers }, (lag) => { last = lag; ctx.heartbeat(lag); }, ctx.cancellationSignal);
  } finally {
    clearInterval(beat);
  }
}
