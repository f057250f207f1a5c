// The correct delivery: `payments` → settlement → `payments.settled`, exactly once.
//
// Exactly-once rests on three things committed in ONE Kafka transaction per batch:
// the settlements, the dedup-state records (message_id → settled) in a compacted
// state topic, and the consumed offsets (sendOffsets). A read_committed reader sees
// all three or none of them, so after a SIGKILL at any moment the next start resumes
// from the committed offsets with a dedup set rebuilt from exactly the committed
// state: nothing is lost, nothing settles twice, and the relay's at-least-once
// duplicates (same message_id, same input partition since key = message_id) are
// dropped even when they arrive across a crash.
//
// kafkajs pitfalls handled here (tulios/kafkajs issues 430, 1416, 1282, 296, 598; what was
// verified of kafkajs transactions is in docs/infra.md):
// - no KIP-447 fencing: one transactional.id per input partition, so a restarted
//   process's InitProducerId fences the dead one's producer and aborts its open
//   transaction before anything is read or written;
// - a producer stuck in "ongoing transaction" after an error: never reused; any
//   transactional error ends the whole session (consumer and producers are
//   recreated, dedup state rebuilt from Kafka);
// - CONCURRENT_TRANSACTIONS while the old transaction is being aborted: retried by
//   kafkajs; the transaction timeout is kept short so a lost transaction blocks
//   read_committed readers for seconds, not a minute;
// - out-of-order sequence: idempotent producers with maxInFlightRequests 1 and one
//   sendBatch per transaction, so a producer never has two sends in flight.
import { Partitioners, type Admin, type EachBatchPayload, type KafkaMessage, type Message, type Producer, type TopicMessages } from 'kafkajs';
import { ignoreExists, nextOffset, PRODUCER_RETRY, sortBatch, type Bounded, type Delivery, type DeliveryContext } from './delivery.ts';
import { readTopicToEnd } from './topic-reader.ts';

/** Input records per transaction at most (settlements of ~300 bytes stay far below message.max.bytes). */
const MAX_TXN_MESSAGES = 2000;

export class ExactlyOnceDelivery implements Delivery {
  private readonly ctx: DeliveryContext;
  /** One transactional producer per input partition. */
  private readonly producers = new Map<number, Producer>();
  /** message_ids settled by committed transactions, per input partition. */
  private readonly dedup = new Map<number, Set<string>>();
  private partitions: number[] = [];

  constructor(ctx: DeliveryContext) {
    this.ctx = ctx;
  }

  dedupEntries(): number {
    let n = 0;
    for (const s of this.dedup.values()) n += s.size;
    return n;
  }

  async prepare(admin: Admin, partitions: number[], existing: ReadonlySet<string>): Promise<void> {
    const { kafka, opts: o, log, metrics } = this.ctx;
    this.partitions = partitions;
    await this.ensureStateTopic(admin, existing);
    this.ctx.checkOpen();
    // Fence first: InitProducerId per partition aborts whatever transaction a killed
    // predecessor left open, so the state read below is final.
    await Promise.all(partitions.map(async (p) => {
      const producer = kafka.producer({
        transactionalId: `${o.transactionalIdPrefix}-${o.inputTopic}-${p}`,
        idempotent: true,
        maxInFlightRequests: 1,
        transactionTimeout: o.transactionTimeoutMs,
        createPartitioner: Partitioners.DefaultPartitioner,
        retry: PRODUCER_RETRY,
      });
      this.producers.set(p, producer);
      await producer.connect();
      const fence = await producer.transaction();
      await fence.abort();
    }));
    this.ctx.checkOpen();
    for (const p of partitions) this.dedup.set(p, new Set());
    const t0 = Date.now();
    const { records } = await readTopicToEnd(kafka, o.stateTopic, (p, m) => {
      if (m.key) this.dedup.get(p)?.add(m.key.toString('utf8'));
    }, { timeoutMs: o.transactionTimeoutMs * 3 });
    metrics.dedupEntries.set(this.dedupEntries());
    log.info({ records, entries: this.dedupEntries(), ms: Date.now() - t0 }, 'dedup state rebuilt from the state topic');
  }

  /** The compacted state topic: partition p holds the dedup state of input partition p, so the counts must match. */
  private async ensureStateTopic(admin: Admin, existing: ReadonlySet<string>): Promise<void> {
    const o = this.ctx.opts;
    if (!existing.has(o.stateTopic)) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: [{ topic: o.stateTopic, numPartitions: this.partitions.length,
          configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }],
      }).catch(ignoreExists);
    }
    const state = await admin.fetchTopicMetadata({ topics: [o.stateTopic] });
    const statePartitions = state.topics[0]!.partitions.length;
    if (statePartitions !== this.partitions.length) {
      throw Object.assign(new Error(`state topic ${o.stateTopic} has ${statePartitions} partitions, the input topic ` +
        `${o.inputTopic} has ${this.partitions.length}: they must match (dedup state of input partition p lives in state partition p)`),
      { name: 'ConfigurationError' });
    }
  }

  assigned(partitions: number[]): void {
    if (partitions.length < this.partitions.length) {
      this.ctx.log.error({ assigned: partitions, partitions: this.partitions }, 'another member shares the consumer group: this processor runs as ONE ' +
        'instance (it fences every partition\'s transactional.id at start); instances will keep fencing each other');
    }
  }

  async batch({ batch, resolveOffset, heartbeat, isRunning }: EachBatchPayload): Promise<void> {
    const p = batch.partition;
    const producer = this.producers.get(p);
    const seen = this.dedup.get(p);
    if (!producer || !seen) throw new Error(`input partition ${p} appeared after start (partitions ${this.partitions.join(',')}); restarting to fence it`);
    // A fetch can hand over ~1 MB per partition; transactions are capped so that no record
    // batch of a transaction nears the broker's message.max.bytes.
    for (let from = 0; from < batch.messages.length; from += MAX_TXN_MESSAGES) {
      if (this.ctx.failed() || !isRunning()) return;
      const chunk = batch.messages.slice(from, from + MAX_TXN_MESSAGES);
      const last = from + MAX_TXN_MESSAGES >= batch.messages.length;
      // The last chunk commits past the batch's end, control records (markers) included.
      const lastOffset = last ? batch.lastOffset() : chunk[chunk.length - 1]!.offset;
      await this.settleTransactionally(producer, seen, p, chunk, lastOffset);
      resolveOffset(lastOffset);
      await heartbeat();
    }
  }

  /** One transaction: settlements + dedup-state records + the consumed offset, or nothing. */
  private async settleTransactionally(producer: Producer, seen: Set<string>, p: number, messages: KafkaMessage[], lastOffset: string): Promise<void> {
    const { opts: o, metrics } = this.ctx;
    const { settled, fresh, dead, duplicates } = sortBatch(o.inputTopic, p, messages, (id) => seen.has(id));
    const state: Message[] = [...fresh].map(([id, offset]) => ({ key: id, value: `{"offset":"${offset}"}`, partition: p }));
    const t0 = performance.now();
    const txn = await producer.transaction();
    let written = false;
    try {
      const topicMessages: TopicMessages[] = [];
      if (settled.length) topicMessages.push({ topic: o.outputTopic, messages: settled }, { topic: o.stateTopic, messages: state });
      if (dead.length) topicMessages.push({ topic: o.deadLetterTopic, messages: dead });
      if (topicMessages.length) {
        await txn.sendBatch({ topicMessages });
        written = true;
        metrics.writtenUncommitted.inc();
      }
      await txn.sendOffsets({ consumerGroupId: o.groupId, topics: [{ topic: o.inputTopic, partitions: [{ partition: p, offset: nextOffset(lastOffset) }] }] });
      await txn.commit();
    } catch (err) {
      metrics.aborts.inc();
      // Best effort: if the abort fails too, fencing by the next session's InitProducerId
      // (or the transaction timeout) ends the transaction.
      if (txn.isActive()) await txn.abort().catch(() => undefined);
      throw err;
    } finally {
      if (written) metrics.writtenUncommitted.dec();
    }
    // Only now, with the transaction committed, do its ids count as settled.
    for (const id of fresh.keys()) seen.add(id);
    metrics.txnSeconds.observe((performance.now() - t0) / 1000);
    metrics.commits.inc();
    metrics.offsetCommits.inc();
    metrics.processed.inc(settled.length);
    metrics.duplicates.inc(duplicates);
    metrics.invalid.inc(dead.length);
    metrics.dedupEntries.inc(fresh.size);
  }

  async close(_graceful: boolean, bounded: Bounded): Promise<void> {
    await Promise.all([...this.producers.values()].map((p) => bounded(p.disconnect(), 'producer disconnect')));
  }
}
