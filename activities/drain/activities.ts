import { Context } from '@temporalio/activity';
import { loadStackConfig } from '../../scripts/stack/config.ts';
import { drain, type DrainResult } from './drain.ts';

/** Drain phase: brokers default to the embedded stack's Kafka (through its proxy). */
export async function drainPipelines(input: { brokers?: string[]; groups: string[]; timeoutMs: number }): Promise<DrainResult> {
  const ctx = Context.current();
  const brokers = input.brokers ?? [`127.0.0.1:${loadStackConfig().ports.kafka_proxy}`];
  return drain({ ...input, brokers }, (lag) => ctx.heartbeat(lag), ctx.cancellationSignal);
}
