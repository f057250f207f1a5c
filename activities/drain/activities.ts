import { Context } from '@temporalio/activity';
import { environment } from '../environment/index.ts';
import { drain, type DrainResult } from './drain.ts';

/** Drain phase: brokers default to the system's (the scenario's resolution fills them from its system file). */
export async function drainPipelines(input: { brokers?: string[]; groups: string[]; timeoutMs: number }): Promise<DrainResult> {
  const ctx = Context.current();
  const brokers = input.brokers ?? environment().defaultSystem().defaults?.drain?.brokers;
  if (!brokers?.length) throw new Error('drain: no Kafka brokers (set drain.brokers in the scenario or defaults.drain.brokers in its system file)');
  return drain({ ...input, brokers }, (lag) => ctx.heartbeat(lag), ctx.cancellationSignal);
}
