// The stream processor: `payments` → settlement → `payments.settled`, exactly once.
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
// kafkajs pitfalls handled here (see INFRA.md):
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
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel, Partitioners, type Admin, type Consumer, type EachBatchPayload, type LogEntry, type Message, type Producer, type TopicMessages } from 'kafkajs';
import type { Logger } from 'pino';
import type { DeliveryMode, StreamDefect } from './defects.ts';
import type { Metrics } from './metrics.ts';
import { parsePaymentEvent, settle } from './settlement.ts';
import { readTopicToEnd } from './topic-reader.ts';

export interface ProcessorOptions {
  brokers: string[];
  clientId: string;
  inputTopic: string;
  outputTopic: string;
  /** Compacted topic: key message_id, one partition per input partition. */
  stateTopic: string;
  deadLetterTopic: string;
  groupId: string;
  transactionalIdPrefix: string;
  transactionTimeoutMs: number;
  /**
   * A fetch waits for this many bytes (or fetchMaxWaitMs) before it returns, so that a
   * transaction carries more records (each costs the broker a fixed set of requests,
   * log appends and markers). Default 1: return as soon as anything is there; at
   * 2,000 payments/s 128 KiB/50 ms saved only ~10% of the broker's CPU and added up to
   * 50 ms of end-to-end latency, so it is a knob, not the default.
   */
  fetchMinBytes?: number;
  /** The longest a fetch waits for fetchMinBytes. Default 100 ms. */
  fetchMaxWaitMs?: number;
  /** Partitions of the input/output topics when this process has to create them. */
  partitions: number;
  mode: DeliveryMode;
  defects: readonly StreamDefect[];
}

export type ProcessorState = 'starting' | 'running' | 'restarting' | 'stopping' | 'stopped';

export interface ProcessorStatus {
  state: ProcessorState;
  mode: DeliveryMode;
  defects: readonly StreamDefect[];
  input_topic: string;
  output_topic: string;
  group_id: string;
  partitions: number[];
  dedup_entries: number;
  consumer_lag: number | null;
  restarts: number;
  last_error: string | null;
}

/** In at-least-once mode offsets are auto-committed this often, as a default Kafka consumer does. */
const AUTO_COMMIT_INTERVAL_MS = 5000;
/** In commit-before-process mode the settlement buffer is flushed this often. */
const BUFFER_FLUSH_MS = 250;
const LAG_POLL_MS = 2000;
/** Input records per transaction at most (settlements of ~300 bytes stay far below message.max.bytes). */
const MAX_TXN_MESSAGES = 2000;

export class StreamProcessor {
  readonly opts: ProcessorOptions;
  private readonly log: Logger;
  private readonly metrics: Metrics;
  private readonly kafka: Kafka;
  private state: ProcessorState = 'stopped';
  private session: Session | undefined;
  private restarts = 0;
  private lastError: string | null = null;
  private stopRequested = false;
  private wakeStop: () => void = () => {};
  private loop: Promise<void> | undefined;

  constructor(opts: ProcessorOptions, log: Logger, metrics: Metrics) {
    this.opts = opts;
    this.log = log;
    this.metrics = metrics;
    this.kafka = new Kafka({
      clientId: opts.clientId,
      brokers: opts.brokers,
      connectionTimeout: 3000,
      requestTimeout: 10000,
      retry: { initialRetryTime: 100, maxRetryTime: 2000, retries: 10 },
      logLevel: logLevel.WARN,
      logCreator: () => (entry: LogEntry) => kafkaLog(log, entry),
    });
    for (const d of opts.defects) metrics.defect.set({ defect: d }, 1);
  }

  start(): void {
    if (this.loop) return;
    this.stopRequested = false;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopRequested = true;
    this.wakeStop();
    await this.loop;
    this.loop = undefined;
  }

  status(): ProcessorStatus {
    const s = this.session;
    return {
      state: this.state,
      mode: this.opts.mode,
      defects: this.opts.defects,
      input_topic: this.opts.inputTopic,
      output_topic: this.opts.outputTopic,
      group_id: this.opts.groupId,
      partitions: s?.partitions ?? [],
      dedup_entries: s?.dedupEntries() ?? 0,
      consumer_lag: s?.lagTotal ?? null,
      restarts: this.restarts,
      last_error: this.lastError,
    };
  }

  private async run(): Promise<void> {
    let backoffMs = 250;
    while (!this.stopRequested) {
      this.state = this.restarts === 0 ? 'starting' : 'restarting';
      this.metrics.up.set(0);
      const session = new Session(this.kafka, this.opts, this.log, this.metrics);
      this.session = session;
      const stopped = new Promise<'stop'>((resolve) => { this.wakeStop = () => resolve('stop'); });
      let failure: Error | undefined;
      try {
        const outcome = await Promise.race([session.start().then(() => 'started' as const), stopped, session.failed]);
        if (outcome === 'started') {
          this.state = 'running';
          this.metrics.up.set(1);
          backoffMs = 250;
          this.log.info({ partitions: session.partitions, mode: this.opts.mode, dedup: session.dedupEntries() }, 'processor running');
          const end = await Promise.race([stopped, session.failed]);
          if (end instanceof Error) failure = end;
        } else if (outcome instanceof Error) {
          failure = outcome;
        }
      } catch (err) {
        failure = err instanceof Error ? err : new Error(String(err));
      }
      this.metrics.up.set(0);
      this.state = this.stopRequested ? 'stopping' : 'restarting';
      await session.close(this.stopRequested && !failure);
      if (this.stopRequested) break;
      this.restarts++;
      this.lastError = failure?.message ?? 'session ended';
      this.metrics.restarts.inc({ reason: failure?.name ?? 'unknown' });
      this.log.warn({ err: failure, backoffMs }, 'processor session failed; restarting with state rebuilt from Kafka');
      await Promise.race([sleep(backoffMs), stopped]);
      backoffMs = Math.min(backoffMs * 2, 10000);
    }
    this.state = 'stopped';
  }
}

/**
 * One consumer plus its producers and the dedup state, from start to the first error.
 * A failed session is thrown away whole: nothing from it is trusted by the next one.
 */
class Session {
  private readonly kafka: Kafka;
  private readonly opts: ProcessorOptions;
  private readonly log: Logger;
  private readonly metrics: Metrics;
  partitions: number[] = [];
  lagTotal: number | null = null;
  readonly failed: Promise<Error>;
  private failure: Error | undefined;
  private signalFailure: (err: Error) => void = () => {};
  private admin: Admin | undefined;
  private consumer: Consumer | undefined;
  /** exactly_once: one transactional producer per input partition. */
  private readonly producers = new Map<number, Producer>();
  /** at_least_once / commit_before_process: one plain idempotent producer. */
  private plain: Producer | undefined;
  /** exactly_once: message_ids settled by committed transactions, per input partition. */
  private readonly dedup = new Map<number, Set<string>>();
  /** The defect modes' dedup: in memory only, so a restart forgets it. */
  private readonly memoryDedup = new Set<string>();
  /** Serialises the plain producer's sends: an idempotent producer must not have two in flight. */
  private sendChain: Promise<unknown> = Promise.resolve();
  private buffer: Message[] = [];
  /** at_least_once: next offset per partition whose settlements were produced, not yet committed. */
  private readonly produced = new Map<number, string>();
  private flushing: Promise<void> | undefined;
  private timers: NodeJS.Timeout[] = [];
  private closed = false;

  constructor(kafka: Kafka, opts: ProcessorOptions, log: Logger, metrics: Metrics) {
    this.kafka = kafka;
    this.opts = opts;
    this.log = log;
    this.metrics = metrics;
    this.failed = new Promise<Error>((resolve) => { this.signalFailure = resolve; });
  }

  dedupEntries(): number {
    if (this.opts.mode !== 'exactly_once') return this.memoryDedup.size;
    let n = 0;
    for (const s of this.dedup.values()) n += s.size;
    return n;
  }

  private fail(err: unknown, where: string): void {
    if (this.failure) return;
    const cause = err instanceof Error ? err : new Error(String(err));
    this.failure = new Error(`${where}: ${cause.message}`, { cause });
    this.failure.name = cause.name;
    this.signalFailure(this.failure);
  }

  async start(): Promise<void> {
    const o = this.opts;
    this.admin = this.kafka.admin();
    await this.admin.connect();
    this.partitions = await this.ensureTopics(this.admin);
    this.checkOpen();

    if (o.mode === 'exactly_once') {
      // Fence first: InitProducerId per partition aborts whatever transaction a killed
      // predecessor left open, so the state read below is final.
      await Promise.all(this.partitions.map(async (p) => {
        const producer = this.kafka.producer({
          transactionalId: `${o.transactionalIdPrefix}-${o.inputTopic}-${p}`,
          idempotent: true,
          maxInFlightRequests: 1,
          transactionTimeout: o.transactionTimeoutMs,
          createPartitioner: Partitioners.DefaultPartitioner,
          retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 2000 },
        });
        this.producers.set(p, producer);
        await producer.connect();
        const fence = await producer.transaction();
        await fence.abort();
      }));
      this.checkOpen();
      for (const p of this.partitions) this.dedup.set(p, new Set());
      const t0 = Date.now();
      const { records } = await readTopicToEnd(this.kafka, o.stateTopic, (p, m) => {
        if (m.key) this.dedup.get(p)?.add(m.key.toString('utf8'));
      }, { timeoutMs: o.transactionTimeoutMs * 3 });
      this.metrics.dedupEntries.set(this.dedupEntries());
      this.log.info({ records, entries: this.dedupEntries(), ms: Date.now() - t0 }, 'dedup state rebuilt from the state topic');
    } else {
      this.plain = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner,
        retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 2000 } });
      await this.plain.connect();
    }

    this.checkOpen();
    const consumer = this.kafka.consumer({
      groupId: o.groupId,
      readUncommitted: false,
      // A killed predecessor holds its partitions until its session expires; 6 s is
      // the broker's minimum and bounds the pause after a crash.
      sessionTimeout: 6000,
      rebalanceTimeout: 10000,
      heartbeatInterval: 1000,
      minBytes: o.fetchMinBytes ?? 1,
      maxWaitTimeInMs: o.fetchMaxWaitMs ?? 100,
      retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2000, restartOnFailure: async () => false },
    });
    this.consumer = consumer;
    let joined!: () => void;
    const joinedP = new Promise<void>((resolve) => { joined = resolve; });
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      this.log.info({ memberId: payload.memberId, assignment: payload.memberAssignment }, 'joined the consumer group');
      const assigned = payload.memberAssignment[o.inputTopic] ?? [];
      if (o.mode === 'exactly_once' && assigned.length < this.partitions.length) {
        this.log.error({ assigned, partitions: this.partitions }, 'another member shares the consumer group: this processor runs as ONE ' +
          'instance (it fences every partition\'s transactional.id at start); instances will keep fencing each other');
      }
      joined();
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => this.fail(payload.error, 'consumer crashed'));
    await consumer.connect();
    await consumer.subscribe({ topic: o.inputTopic, fromBeginning: true });
    const eachBatch = o.mode === 'exactly_once' ? this.exactlyOnceBatch
      : o.mode === 'at_least_once' ? this.atLeastOnceBatch : this.commitFirstBatch;
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: Math.max(1, this.partitions.length),
      eachBatch: async (payload) => {
        if (this.failure) { await sleep(50); return; }
        if (payload.batch.isEmpty()) return;
        this.metrics.consumed.inc(payload.batch.messages.length);
        this.metrics.batchSize.observe(payload.batch.messages.length);
        try {
          await eachBatch.call(this, payload);
        } catch (err) {
          this.fail(err, `processing ${o.inputTopic}[${payload.batch.partition}] offsets ${payload.batch.firstOffset()}..${payload.batch.lastOffset()}`);
        }
      },
    });
    if (o.mode === 'at_least_once') {
      this.timers.push(setInterval(() => { void this.autoCommit(); }, AUTO_COMMIT_INTERVAL_MS));
    }
    if (o.mode === 'commit_before_process') {
      this.timers.push(setInterval(() => { void this.flush(); }, BUFFER_FLUSH_MS));
    }
    this.timers.push(setInterval(() => { void this.pollLag(); }, LAG_POLL_MS));
    await Promise.race([joinedP, this.failed.then((e) => { throw e; })]);
    void this.pollLag();
  }

  /** A stop during start-up must not leave a consumer behind that joins the group after close(). */
  private checkOpen(): void {
    if (this.closed) throw new Error('session closed while starting');
  }

  /** Creates missing topics; returns the input partitions. The state topic must mirror them. */
  private async ensureTopics(admin: Admin): Promise<number[]> {
    const o = this.opts;
    const existing = new Set(await admin.listTopics());
    const create = [o.inputTopic, o.outputTopic, o.deadLetterTopic]
      .filter((t) => !existing.has(t))
      .map((topic) => ({ topic, numPartitions: o.partitions }));
    if (create.length) await admin.createTopics({ topics: create, waitForLeaders: true }).catch(ignoreExists);
    const meta = await admin.fetchTopicMetadata({ topics: [o.inputTopic] });
    const partitions = meta.topics[0]!.partitions.map((p) => p.partitionId).sort((a, b) => a - b);
    if (o.mode !== 'exactly_once') return partitions;
    if (!existing.has(o.stateTopic)) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: [{ topic: o.stateTopic, numPartitions: partitions.length,
          configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }],
      }).catch(ignoreExists);
    }
    const state = await admin.fetchTopicMetadata({ topics: [o.stateTopic] });
    const statePartitions = state.topics[0]!.partitions.length;
    if (statePartitions !== partitions.length) {
      throw Object.assign(new Error(`state topic ${o.stateTopic} has ${statePartitions} partitions, the input topic ` +
        `${o.inputTopic} has ${partitions.length}: they must match (dedup state of input partition p lives in state partition p)`),
      { name: 'ConfigurationError' });
    }
    return partitions;
  }

  private async exactlyOnceBatch({ batch, resolveOffset, heartbeat, isRunning }: EachBatchPayload): Promise<void> {
    const p = batch.partition;
    const producer = this.producers.get(p);
    const seen = this.dedup.get(p);
    if (!producer || !seen) throw new Error(`input partition ${p} appeared after start (partitions ${this.partitions.join(',')}); restarting to fence it`);
    // A fetch can hand over ~1 MB per partition; transactions are capped so that no record
    // batch of a transaction nears the broker's message.max.bytes.
    for (let from = 0; from < batch.messages.length; from += MAX_TXN_MESSAGES) {
      if (this.failure || !isRunning()) return;
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
  private async settleTransactionally(producer: Producer, seen: Set<string>, p: number,
    messages: EachBatchPayload['batch']['messages'], lastOffset: string): Promise<void> {
    const o = this.opts;
    const fresh = new Set<string>();
    const settled: Message[] = [];
    const state: Message[] = [];
    const dead: Message[] = [];
    let duplicates = 0;
    const now = new Date();
    for (const m of messages) {
      const parsed = parsePaymentEvent(m.value);
      if (!parsed.ok) {
        dead.push(deadLetter(o.inputTopic, p, m.offset, m.key, m.value, parsed.error));
        continue;
      }
      const id = parsed.event.message_id;
      if (seen.has(id) || fresh.has(id)) { duplicates++; continue; }
      fresh.add(id);
      settled.push({ key: id, value: JSON.stringify(settle(parsed.event, now)) });
      state.push({ key: id, value: `{"offset":"${m.offset}"}`, partition: p });
    }
    const next = (BigInt(lastOffset) + 1n).toString();
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
        this.metrics.writtenUncommitted.inc();
      }
      await txn.sendOffsets({ consumerGroupId: o.groupId, topics: [{ topic: o.inputTopic, partitions: [{ partition: p, offset: next }] }] });
      await txn.commit();
    } catch (err) {
      this.metrics.aborts.inc();
      // Best effort: if the abort fails too, fencing by the next session's InitProducerId
      // (or the transaction timeout) ends the transaction.
      if (txn.isActive()) await txn.abort().catch(() => undefined);
      throw err;
    } finally {
      if (written) this.metrics.writtenUncommitted.dec();
    }
    // Only now, with the transaction committed, do its ids count as settled.
    for (const id of fresh) seen.add(id);
    this.metrics.txnSeconds.observe((performance.now() - t0) / 1000);
    this.metrics.commits.inc();
    this.metrics.offsetCommits.inc();
    this.metrics.processed.inc(settled.length);
    this.metrics.duplicates.inc(duplicates);
    this.metrics.invalid.inc(dead.length);
    this.metrics.dedupEntries.inc(fresh.size);
  }

  /** Defect consumer_at_least_once: produce, then let the consumer auto-commit offsets later. */
  private async atLeastOnceBatch({ batch, resolveOffset, heartbeat }: EachBatchPayload): Promise<void> {
    const { settled, dead, duplicates } = this.settleInMemory(batch.partition, batch.messages);
    const topicMessages: TopicMessages[] = [];
    if (settled.length) topicMessages.push({ topic: this.opts.outputTopic, messages: settled });
    if (dead.length) topicMessages.push({ topic: this.opts.deadLetterTopic, messages: dead });
    if (topicMessages.length) await this.serialSend(() => this.plain!.sendBatch({ topicMessages }));
    this.metrics.processed.inc(settled.length);
    this.metrics.duplicates.inc(duplicates);
    this.metrics.invalid.inc(dead.length);
    resolveOffset(batch.lastOffset());
    this.produced.set(batch.partition, (BigInt(batch.lastOffset()) + 1n).toString());
    await heartbeat();
  }

  /** The at-least-once auto-commit: like a default Kafka consumer, every few seconds, idle or not. */
  private async autoCommit(): Promise<void> {
    if (!this.consumer || this.produced.size === 0 || this.failure) return;
    const offsets = [...this.produced].map(([partition, offset]) => ({ topic: this.opts.inputTopic, partition, offset }));
    this.produced.clear();
    try {
      await this.consumer.commitOffsets(offsets);
      this.metrics.offsetCommits.inc();
    } catch (err) {
      this.fail(err, 'auto-committing offsets');
    }
  }

  /** Defect consumer_commit_before_process: commit the batch's offsets on arrival, settle it later from a buffer. */
  private async commitFirstBatch({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary }: EachBatchPayload): Promise<void> {
    const next = (BigInt(batch.lastOffset()) + 1n).toString();
    await commitOffsetsIfNecessary({ topics: [{ topic: this.opts.inputTopic, partitions: [{ partition: batch.partition, offset: next }] }] });
    this.metrics.offsetCommits.inc();
    resolveOffset(batch.lastOffset());
    const { settled, dead, duplicates } = this.settleInMemory(batch.partition, batch.messages);
    this.buffer.push(...settled);
    this.metrics.duplicates.inc(duplicates);
    this.metrics.invalid.inc(dead.length);
    await heartbeat();
  }

  private settleInMemory(partition: number, messages: EachBatchPayload['batch']['messages']) {
    const settled: Message[] = [];
    const dead: Message[] = [];
    let duplicates = 0;
    const now = new Date();
    for (const m of messages) {
      const parsed = parsePaymentEvent(m.value);
      if (!parsed.ok) { dead.push(deadLetter(this.opts.inputTopic, partition, m.offset, m.key, m.value, parsed.error)); continue; }
      const id = parsed.event.message_id;
      if (this.memoryDedup.has(id)) { duplicates++; continue; }
      this.memoryDedup.add(id);
      settled.push({ key: id, value: JSON.stringify(settle(parsed.event, now)) });
    }
    this.metrics.dedupEntries.set(this.memoryDedup.size);
    return { settled, dead, duplicates };
  }

  private flush(): Promise<void> {
    if (this.flushing || this.buffer.length === 0 || !this.plain) return this.flushing ?? Promise.resolve();
    const messages = this.buffer;
    this.buffer = [];
    const plain = this.plain;
    this.flushing = this.serialSend(() => plain.send({ topic: this.opts.outputTopic, messages }))
      .then(() => { this.metrics.processed.inc(messages.length); })
      .catch((err: unknown) => this.fail(err, `flushing ${messages.length} buffered settlements`))
      .finally(() => { this.flushing = undefined; });
    return this.flushing;
  }

  private serialSend<T>(send: () => Promise<T>): Promise<T> {
    const next = this.sendChain.then(send);
    this.sendChain = next.catch(() => undefined);
    return next;
  }

  private async pollLag(): Promise<void> {
    if (!this.admin) return;
    const o = this.opts;
    try {
      const [high, committed] = await Promise.all([
        this.admin.fetchTopicOffsets(o.inputTopic),
        this.admin.fetchOffsets({ groupId: o.groupId, topics: [o.inputTopic] }),
      ]);
      const done = new Map(committed[0]?.partitions.map((c) => [c.partition, BigInt(c.offset)]) ?? []);
      let total = 0;
      for (const h of high) {
        const c = done.get(h.partition) ?? -1n;
        const from = c >= 0n ? c : BigInt(h.low);
        const lag = Number(BigInt(h.high) - from);
        total += Math.max(0, lag);
        this.metrics.lag.set({ topic: o.inputTopic, partition: String(h.partition) }, Math.max(0, lag));
      }
      this.lagTotal = total;
      this.metrics.lagTotal.set(total);
    } catch (err) {
      this.log.debug({ err }, 'consumer lag poll failed');
    }
  }

  /** Graceful: finish the batch in hand (and, in the buffering defect, flush). Otherwise tear down with bounded waits. */
  async close(graceful: boolean): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    const bounded = async (p: Promise<unknown> | undefined, what: string): Promise<void> => {
      if (!p) return;
      const timer = new AbortController();
      await Promise.race([
        p.catch((err: unknown) => this.log.debug({ err }, `${what} failed during close`)),
        sleep(15000, undefined, { signal: timer.signal, ref: false })
          .then(() => this.log.warn(`${what} did not finish within 15 s; abandoning it`), () => undefined),
      ]);
      timer.abort();
    };
    if (graceful && this.opts.mode === 'at_least_once') await bounded(this.autoCommit(), 'final offset commit');
    await bounded(this.consumer?.disconnect(), 'consumer disconnect');
    if (graceful && this.opts.mode === 'commit_before_process') {
      await bounded(this.flush(), 'final flush');
      if (this.buffer.length) await bounded(this.flush(), 'final flush');
    }
    await Promise.all([...this.producers.values()].map((p) => bounded(p.disconnect(), 'producer disconnect')));
    await bounded(this.plain?.disconnect(), 'producer disconnect');
    await bounded(this.admin?.disconnect(), 'admin disconnect');
  }
}

function deadLetter(topic: string, partition: number, offset: string, key: Buffer | null, value: Buffer | null, error: string): Message {
  return { key, value, headers: { error, source: `${topic}/${partition}/${offset}` } };
}

function ignoreExists(err: unknown): void {
  if (err instanceof Error && /already exists/i.test(err.message)) return;
  if ((err as { type?: string }).type === 'TOPIC_ALREADY_EXISTS') return;
  throw err;
}

function kafkaLog(log: Logger, { namespace, level, log: entry }: LogEntry): void {
  const { message, timestamp: _t, logger: _l, ...extra } = entry as LogEntry['log'] & { timestamp?: string; logger?: string };
  // kafkajs warns about bounded retries on every idempotent producer; they are bounded on purpose
  // (a stuck send must end the session, whose fencing keeps exactly-once).
  if (message.startsWith('Limiting retries for the idempotent producer')) return;
  const fields = { kafkajs: namespace, ...extra };
  // kafkajs logs every retried protocol error as an error; the session's own failures are logged by the processor.
  if (level === logLevel.ERROR || level === logLevel.WARN) log.warn(fields, message);
  else log.debug(fields, message);
}
