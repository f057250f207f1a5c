// Reads a topic from the beginning to its current end, as a read_committed consumer
// sees it. The processor rebuilds its dedup state this way, and tests use it to check
// the read_committed view of `payments.settled`.
import { randomUUID } from 'node:crypto';
import type { Kafka, KafkaMessage } from 'kafkajs';

export interface ReadOptions {
  /** Gives up (with the positions reached in the error) after this long. */
  timeoutMs?: number;
  /** Only these partitions (all by default). */
  partitions?: readonly number[];
  /** read_uncommitted also sees records of aborted (and open) transactions; for diagnostics. */
  readUncommitted?: boolean;
}

/**
 * Calls onMessage for every committed record up to the high watermark observed at the
 * start. Positions are tracked from kafkajs's END_BATCH_PROCESS event, whose lastOffset
 * also counts control records (transaction markers) and batches that held only
 * aborted records, so a partition ending in a marker is still recognised as read.
 * A transaction still open on the topic holds the read back until it ends.
 */
export async function readTopicToEnd(
  kafka: Kafka,
  topic: string,
  onMessage: (partition: number, message: KafkaMessage) => void,
  opts: ReadOptions = {},
): Promise<{ records: number; ends: Map<number, bigint> }> {
  const admin = kafka.admin();
  await admin.connect();
  let offsets: { partition: number; high: string; low: string }[];
  try {
    offsets = await admin.fetchTopicOffsets(topic);
  } finally {
    await admin.disconnect();
  }
  const ends = new Map<number, bigint>();
  const positions = new Map<number, bigint>();
  for (const o of offsets) {
    if (opts.partitions && !opts.partitions.includes(o.partition)) continue;
    ends.set(o.partition, BigInt(o.high));
    positions.set(o.partition, BigInt(o.low));
  }
  const done = () => [...ends].every(([p, end]) => (positions.get(p) ?? 0n) >= end);
  let records = 0;
  if (done()) return { records, ends };

  // kafkajs consumes only through a group; a throwaway one that never commits.
  const consumer = kafka.consumer({
    groupId: `ordeal-reader-${randomUUID()}`,
    readUncommitted: opts.readUncommitted ?? false,
    maxWaitTimeInMs: 100,
    sessionTimeout: 10000,
    heartbeatInterval: 1000,
  });
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => { finish = resolve; });
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    if (!ends.has(payload.partition)) return;
    const next = BigInt(payload.lastOffset) + 1n;
    if (next > (positions.get(payload.partition) ?? 0n)) positions.set(payload.partition, next);
    if (done()) finish();
  });
  let crashed: Error | undefined;
  consumer.on(consumer.events.CRASH, ({ payload }) => { crashed = payload.error; finish(); });
  await consumer.connect();
  let timer: NodeJS.Timeout | undefined;
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        if (!ends.has(batch.partition)) return;
        const end = ends.get(batch.partition)!;
        for (const m of batch.messages) {
          if (BigInt(m.offset) >= end) break;
          records++;
          onMessage(batch.partition, m);
        }
      },
    });
    const timeoutMs = opts.timeoutMs ?? 60000;
    await Promise.race([
      finished,
      new Promise<void>((_, reject) => {
        timer = setTimeout(() => reject(new Error(
          `reading ${topic} to its end took longer than ${timeoutMs} ms; reached ` +
          [...ends].map(([p, e]) => `p${p} ${positions.get(p)}/${e}`).join(', ') +
          ' (an open transaction holds read_committed readers back until it ends or times out)')), timeoutMs);
      }),
    ]);
    if (crashed) throw new Error(`reading ${topic}: the consumer crashed: ${crashed.message}`);
    return { records, ends };
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
  }
}
