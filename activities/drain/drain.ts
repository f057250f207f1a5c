// Waiting for asynchronous pipelines to catch up before reconciling: the summed lag
// of the named Kafka consumer groups (committed offset behind the log end, over every
// partition they consume) reaches 0, or the deadline passes.
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel, type Admin } from 'kafkajs';

export interface DrainInput {
  brokers: string[];
  groups: string[];
  timeoutMs: number;
  intervalMs?: number;
}

export interface DrainResult {
  lag_zero: boolean;
  waited_ms: number;
  /** Last measured lag per group. */
  lag: Record<string, number>;
  error?: string;
}

export async function groupLag(admin: Admin, groupId: string): Promise<number> {
  const committed = await admin.fetchOffsets({ groupId });
  let lag = 0;
  for (const { topic, partitions } of committed) {
    const ends = await admin.fetchTopicOffsets(topic);
    const end = new Map(ends.map((p) => [p.partition, Number(p.high)]));
    for (const p of partitions) {
      const high = end.get(p.partition) ?? 0;
      // -1: nothing committed yet, so everything in the partition is still to be consumed.
      const at = Number(p.offset) < 0 ? Number(ends.find((e) => e.partition === p.partition)?.low ?? 0) : Number(p.offset);
      lag += Math.max(0, high - at);
    }
  }
  return lag;
}

export async function drain(input: DrainInput, onLag?: (lag: Record<string, number>) => void, signal?: AbortSignal): Promise<DrainResult> {
  const t0 = Date.now();
  if (input.groups.length === 0) return { lag_zero: true, waited_ms: 0, lag: {} };
  const kafka = new Kafka({ clientId: 'ordeal-drain', brokers: input.brokers, logLevel: logLevel.NOTHING,
    retry: { retries: 2 }, connectionTimeout: 3000, requestTimeout: 5000 });
  const admin = kafka.admin();
  const lag: Record<string, number> = {};
  let error: string | undefined;
  try {
    await admin.connect();
    while (!signal?.aborted) {
      try {
        for (const g of input.groups) lag[g] = await groupLag(admin, g);
        error = undefined;
        onLag?.(lag);
        if (Object.values(lag).every((l) => l === 0)) return { lag_zero: true, waited_ms: Date.now() - t0, lag };
      } catch (err) {
        error = (err as Error).message;
      }
      if (Date.now() - t0 >= input.timeoutMs) break;
      await sleep(input.intervalMs ?? 500, undefined, { signal }).catch(() => {});
    }
  } catch (err) {
    error = `cannot reach Kafka at ${input.brokers.join(',')}: ${(err as Error).message}`;
  } finally {
    await admin.disconnect().catch(() => {});
  }
  return { lag_zero: false, waited_ms: Date.now() - t0, lag, ...(error ? { error } : {}) };
}
