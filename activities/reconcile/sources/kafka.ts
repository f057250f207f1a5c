// A Kafka topic as a system of record. Read from the beginning with isolation
// read_committed (aborted transactions never count) up to the high watermarks
// taken at start, so records produced while we read do not move the goal posts.
// A transaction still open at start holds a read_committed reader below the high
// watermark until it is decided (at worst its transaction timeout), which is
// right: its records count if it commits.
import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { Kafka, logLevel } from 'kafkajs';
import type { RecordSink, RecordSource } from '../engine.ts';
import type { ReconcileSourceSpec } from '../types.ts';

type KafkaSpec = Extract<ReconcileSourceSpec, { source: 'kafka' }>;

function getter(path: string): (o: unknown) => unknown {
  const parts = path.split('.');
  if (parts.length === 1) return (o) => (o as Record<string, unknown> | null)?.[path];
  return (o) => {
    let v: unknown = o;
    for (const p of parts) v = v === null || typeof v !== 'object' ? undefined : (v as Record<string, unknown>)[p];
    return v;
  };
}

export function kafkaSource(spec: KafkaSpec, defaultBrokers: string[]): RecordSource {
  const brokers = spec.brokers ?? defaultBrokers;
  const getId = getter(spec.id_field);
  const getAmount = getter(spec.amount_field);
  const getCurrency = getter(spec.currency_field);
  const getRun = spec.run_field === null ? null : getter(spec.run_field);
  const where = `topic "${spec.topic}" on ${brokers.join(',')}`;

  return {
    name: spec.name,
    kind: 'kafka',
    async read(runId: string, sink: RecordSink, signal: AbortSignal) {
      const kafka = new Kafka({
        clientId: 'ordeal-reconcile', brokers, logLevel: logLevel.NOTHING, connectionTimeout: 5000, requestTimeout: 30_000,
        retry: { retries: 5, initialRetryTime: 200 },
      });
      const admin = kafka.admin();
      await admin.connect();
      const groupId = `ordeal-reconcile-${runId}-${randomUUID()}`;
      let consumer: ReturnType<Kafka['consumer']> | undefined;
      try {
        const topics = await admin.listTopics();
        if (!topics.includes(spec.topic)) {
          // Nothing was ever produced: every acknowledged message is lost here, which is the finding.
          sink.warn(`topic "${spec.topic}" does not exist on ${brokers.join(',')}`);
          return;
        }
        // kafkajs' admin lists offsets under read_committed: its `high` is the last stable offset.
        const offsets = await admin.fetchTopicOffsets(spec.topic);
        const watermarks = await highWatermarks(kafka, spec.topic);
        const end = new Map<number, number>();
        const open: string[] = [];
        for (const o of offsets) {
          const hw = watermarks.get(o.partition) ?? Number(o.high);
          if (hw > Number(o.low)) end.set(o.partition, hw);
          if (hw > Number(o.high)) open.push(`partition ${o.partition}: stable offset ${o.high}, high watermark ${hw}`);
        }
        if (open.length > 0) sink.warn(`a transaction was open when reconciliation started (${open.join('; ')}); waited for it to be decided`);
        if (end.size === 0) return;

        const position = new Map<number, number>();
        let invalid = 0;
        let finish!: () => void;
        const done = new Promise<void>((resolve) => { finish = resolve; });
        const check = () => {
          for (const [p, e] of end) if ((position.get(p) ?? 0) < e) return;
          finish();
        };

        consumer = kafka.consumer({
          groupId, readUncommitted: false, allowAutoTopicCreation: false,
          // Bounded fetches: kafkajs decodes a whole response at once, so these bound memory.
          maxBytesPerPartition: 4 * 1024 * 1024, maxBytes: 16 * 1024 * 1024, maxWaitTimeInMs: 200,
          sessionTimeout: 30_000, heartbeatInterval: 3000,
        });
        await consumer.connect();
        // END_BATCH_PROCESS also fires for batches that held only transaction
        // markers or aborted records, so the position advances past them.
        consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
          const last = Number(payload.lastOffset);
          if (payload.topic !== spec.topic || !Number.isFinite(last)) return;
          if (last + 1 > (position.get(payload.partition) ?? 0)) position.set(payload.partition, last + 1);
          check();
        });
        await consumer.subscribe({ topic: spec.topic, fromBeginning: true });
        await consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: true,
          eachBatch: async ({ batch }) => {
            const stop = end.get(batch.partition);
            for (const m of batch.messages) {
              if (stop === undefined || Number(m.offset) >= stop) break;
              let value: unknown;
              try {
                value = m.value === null ? undefined : JSON.parse(m.value.toString('utf8'));
              } catch {
                value = undefined;
              }
              if (value === undefined || value === null || typeof value !== 'object') {
                if (invalid++ < 5) sink.warn(`partition ${batch.partition} offset ${m.offset}: value is not a JSON object`);
                continue;
              }
              if (getRun && getRun(value) !== runId) continue;
              const id = getId(value);
              sink.add(id === undefined || id === null ? `(no ${spec.id_field} at offset ${batch.partition}/${m.offset})` : String(id),
                Number(getAmount(value)), String(getCurrency(value)));
            }
          },
        });
        check();

        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), spec.timeout); });
        const aborted = new Promise<'aborted'>((resolve) => {
          if (signal.aborted) resolve('aborted');
          signal.addEventListener('abort', () => resolve('aborted'), { once: true });
        });
        const outcome = await Promise.race([done.then(() => 'done' as const), timedOut, aborted]);
        clearTimeout(timer);
        if (outcome === 'aborted') throw signal.reason ?? new Error('aborted');
        if (outcome === 'timeout') {
          const behind = [...end].filter(([p, e]) => (position.get(p) ?? 0) < e).map(([p, e]) => `partition ${p} at ${position.get(p) ?? 0} of ${e}`);
          throw new Error(`reading ${where} did not reach the high watermarks taken at start within ${spec.timeout} ms `
            + `(${behind.join('; ')}); a transaction left open by a crashed producer blocks read_committed readers until its timeout`);
        }
        if (invalid > 0) sink.warn(`${invalid} record(s) were not JSON objects and were skipped`);
      } catch (err) {
        if (err instanceof ApplicationFailure) throw err;
        const e = err as Error;
        throw new Error(e.message.includes(spec.topic) ? e.message : `reading ${where}: ${e.message}`, { cause: err });
      } finally {
        await consumer?.disconnect().catch(() => {});
        await admin.deleteGroups([groupId]).catch(() => {});
        await admin.disconnect().catch(() => {});
      }
    },
  };
}

interface OffsetCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  refreshMetadataIfNecessary(): Promise<void>;
  findTopicPartitionMetadata(topic: string): { partitionId: number }[];
  fetchTopicsOffset(q: { topic: string; fromBeginning: boolean; partitions: { partition: number }[] }[]):
    Promise<{ topic: string; partitions: { partition: number; offset: string }[] }[]>;
}

/**
 * High watermarks (ListOffsets under read_uncommitted). kafkajs' public API only
 * lists offsets under read_committed, so this borrows its own cluster factory with
 * the other isolation level (kafkajs is pinned at 2.2.4). Empty when unavailable:
 * the caller falls back to the last stable offsets.
 */
async function highWatermarks(kafka: Kafka, topic: string): Promise<Map<number, number>> {
  const factorySymbol = Object.getOwnPropertySymbols(kafka).find((s) => s.description === 'private:Kafka:createCluster');
  const factory = factorySymbol ? (kafka as unknown as Record<symbol, unknown>)[factorySymbol] : undefined;
  if (typeof factory !== 'function') return new Map();
  const cluster = (factory as (o: object) => OffsetCluster)({ isolationLevel: 0, allowAutoTopicCreation: false });
  await cluster.connect();
  try {
    await cluster.addTargetTopic(topic);
    await cluster.refreshMetadataIfNecessary();
    const partitions = cluster.findTopicPartitionMetadata(topic).map((p) => ({ partition: p.partitionId }));
    const [res] = await cluster.fetchTopicsOffset([{ topic, fromBeginning: false, partitions }]);
    return new Map((res?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
  } finally {
    await cluster.disconnect().catch(() => {});
  }
}
