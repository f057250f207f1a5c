// The seeded-defect deliveries (ORDEAL_DEFECTS; off by default): what consumers that
// are not exactly-once look like, so that Ordeal can show it catches them. Both use a
// plain idempotent producer, no transactions, and a dedup set kept only in memory, so
// a restart forgets it. Never a model to copy: exactly-once.ts is the correct one.
import { Partitioners, type Admin, type Consumer, type EachBatchPayload, type KafkaMessage, type Message, type Producer, type TopicMessages } from 'kafkajs';
import type { DeliveryMode } from './defects.ts';
import { nextOffset, PRODUCER_RETRY, sortBatch, type Bounded, type Delivery, type DeliveryContext, type SortedBatch } from './delivery.ts';

/** In at-least-once mode offsets are auto-committed this often, as a default Kafka consumer does. */
const AUTO_COMMIT_INTERVAL_MS = 5000;
/** In commit-before-process mode the settlement buffer is flushed this often. */
const BUFFER_FLUSH_MS = 250;

export function seededDefectDelivery(mode: Exclude<DeliveryMode, 'exactly_once'>, ctx: DeliveryContext): Delivery {
  return mode === 'at_least_once' ? new AtLeastOnceDelivery(ctx) : new CommitBeforeProcessDelivery(ctx);
}

/** What both defects share: one plain producer whose sends never overlap, and an in-memory dedup set. */
abstract class InMemoryDelivery implements Delivery {
  protected readonly ctx: DeliveryContext;
  protected plain: Producer | undefined;
  private readonly memoryDedup = new Set<string>();
  /** Serialises the plain producer's sends: an idempotent producer must not have two in flight. */
  private sendChain: Promise<unknown> = Promise.resolve();

  constructor(ctx: DeliveryContext) {
    this.ctx = ctx;
  }

  abstract batch(payload: EachBatchPayload): Promise<void>;

  dedupEntries(): number {
    return this.memoryDedup.size;
  }

  async prepare(_admin: Admin, _partitions: number[], _existing: ReadonlySet<string>): Promise<void> {
    this.plain = this.ctx.kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner,
      retry: PRODUCER_RETRY });
    await this.plain.connect();
  }

  protected settleInMemory(partition: number, messages: KafkaMessage[]): SortedBatch {
    const sorted = sortBatch(this.ctx.opts.inputTopic, partition, messages, (id) => this.memoryDedup.has(id));
    for (const id of sorted.fresh.keys()) this.memoryDedup.add(id);
    this.ctx.metrics.dedupEntries.set(this.memoryDedup.size);
    return sorted;
  }

  protected serialSend<T>(send: () => Promise<T>): Promise<T> {
    const next = this.sendChain.then(send);
    this.sendChain = next.catch(() => undefined);
    return next;
  }

  async close(_graceful: boolean, bounded: Bounded): Promise<void> {
    await bounded(this.plain?.disconnect(), 'producer disconnect');
  }
}

/** Defect consumer_at_least_once: produce, then let the consumer auto-commit offsets later. A kill re-delivers. */
class AtLeastOnceDelivery extends InMemoryDelivery {
  private consumer: Consumer | undefined;
  /** Next offset per partition whose settlements were produced, not yet committed. */
  private readonly produced = new Map<number, string>();

  running(consumer: Consumer): void {
    this.consumer = consumer;
    this.ctx.every(AUTO_COMMIT_INTERVAL_MS, () => { void this.autoCommit(); });
  }

  async batch({ batch, resolveOffset, heartbeat }: EachBatchPayload): Promise<void> {
    const { opts: o, metrics } = this.ctx;
    const { settled, dead, duplicates } = this.settleInMemory(batch.partition, batch.messages);
    const topicMessages: TopicMessages[] = [];
    if (settled.length) topicMessages.push({ topic: o.outputTopic, messages: settled });
    if (dead.length) topicMessages.push({ topic: o.deadLetterTopic, messages: dead });
    if (topicMessages.length) await this.serialSend(() => this.plain!.sendBatch({ topicMessages }));
    metrics.processed.inc(settled.length);
    metrics.duplicates.inc(duplicates);
    metrics.invalid.inc(dead.length);
    resolveOffset(batch.lastOffset());
    this.produced.set(batch.partition, nextOffset(batch.lastOffset()));
    await heartbeat();
  }

  /** The at-least-once auto-commit: like a default Kafka consumer, every few seconds, idle or not. */
  private async autoCommit(): Promise<void> {
    if (!this.consumer || this.produced.size === 0 || this.ctx.failed()) return;
    const offsets = [...this.produced].map(([partition, offset]) => ({ topic: this.ctx.opts.inputTopic, partition, offset }));
    this.produced.clear();
    try {
      await this.consumer.commitOffsets(offsets);
      this.ctx.metrics.offsetCommits.inc();
    } catch (err) {
      this.ctx.fail(err, 'auto-committing offsets');
    }
  }

  async beforeConsumerDisconnect(graceful: boolean, bounded: Bounded): Promise<void> {
    if (graceful) await bounded(this.autoCommit(), 'final offset commit');
  }
}

/** Defect consumer_commit_before_process: commit the batch's offsets on arrival, settle it later from a buffer. A kill loses the buffer. */
class CommitBeforeProcessDelivery extends InMemoryDelivery {
  private buffer: Message[] = [];
  private flushing: Promise<void> | undefined;

  running(): void {
    this.ctx.every(BUFFER_FLUSH_MS, () => { void this.flush(); });
  }

  async batch({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary }: EachBatchPayload): Promise<void> {
    const { opts: o, metrics } = this.ctx;
    await commitOffsetsIfNecessary({ topics: [{ topic: o.inputTopic, partitions: [{ partition: batch.partition, offset: nextOffset(batch.lastOffset()) }] }] });
    metrics.offsetCommits.inc();
    resolveOffset(batch.lastOffset());
    const { settled, dead, duplicates } = this.settleInMemory(batch.partition, batch.messages);
    this.buffer.push(...settled);
    metrics.duplicates.inc(duplicates);
    metrics.invalid.inc(dead.length);
    await heartbeat();
  }

  private flush(): Promise<void> {
    if (this.flushing || this.buffer.length === 0 || !this.plain) return this.flushing ?? Promise.resolve();
    const messages = this.buffer;
    this.buffer = [];
    const plain = this.plain;
    this.flushing = this.serialSend(() => plain.send({ topic: this.ctx.opts.outputTopic, messages }))
      .then(() => { this.ctx.metrics.processed.inc(messages.length); })
      .catch((err: unknown) => this.ctx.fail(err, `flushing ${messages.length} buffered settlements`))
      .finally(() => { this.flushing = undefined; });
    return this.flushing;
  }

  override async close(graceful: boolean, bounded: Bounded): Promise<void> {
    if (graceful) {
      await bounded(this.flush(), 'final flush');
      if (this.buffer.length) await bounded(this.flush(), 'final flush');
    }
    await super.close(graceful, bounded);
  }
}
