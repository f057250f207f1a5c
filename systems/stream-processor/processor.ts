// The stream processor: `payments` → settlement → `payments.settled`. This file is the
// part every delivery mode shares: a supervisor loop that restarts a failed session
// with backoff, and the consumer session itself (topics, group membership, consumer
// lag, a bounded teardown). How a batch is settled and committed is the session's
// Delivery (delivery.ts): exactly-once.ts is the correct system and the one to read;
// defect-delivery.ts holds the seeded defects.
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel, type Admin, type Consumer, type LogEntry } from 'kafkajs';
import type { Logger } from 'pino';
import { seededDefectDelivery } from './defect-delivery.ts';
import type { DeliveryMode, StreamDefect } from './defects.ts';
import { ignoreExists, type Bounded, type Delivery, type DeliveryContext } from './delivery.ts';
import { ExactlyOnceDelivery } from './exactly-once.ts';
import type { Metrics } from './metrics.ts';

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

const LAG_POLL_MS = 2000;

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
 * One consumer plus its delivery (producers, dedup state), from start to the first
 * error. A failed session is thrown away whole: nothing from it is trusted by the next one.
 */
class Session {
  private readonly kafka: Kafka;
  private readonly opts: ProcessorOptions;
  private readonly log: Logger;
  private readonly metrics: Metrics;
  private readonly delivery: Delivery;
  partitions: number[] = [];
  lagTotal: number | null = null;
  readonly failed: Promise<Error>;
  private failure: Error | undefined;
  private signalFailure: (err: Error) => void = () => {};
  private admin: Admin | undefined;
  private consumer: Consumer | undefined;
  private timers: NodeJS.Timeout[] = [];
  private closed = false;

  constructor(kafka: Kafka, opts: ProcessorOptions, log: Logger, metrics: Metrics) {
    this.kafka = kafka;
    this.opts = opts;
    this.log = log;
    this.metrics = metrics;
    this.failed = new Promise<Error>((resolve) => { this.signalFailure = resolve; });
    const ctx: DeliveryContext = {
      kafka, opts, log, metrics,
      fail: (err, where) => this.fail(err, where),
      failed: () => this.failure !== undefined,
      checkOpen: () => this.checkOpen(),
      every: (ms, work) => { this.timers.push(setInterval(work, ms)); },
    };
    this.delivery = opts.mode === 'exactly_once' ? new ExactlyOnceDelivery(ctx) : seededDefectDelivery(opts.mode, ctx);
  }

  dedupEntries(): number {
    return this.delivery.dedupEntries();
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
    const existing = new Set(await this.admin.listTopics());
    this.partitions = await this.ensureTopics(this.admin, existing);
    this.checkOpen();
    await this.delivery.prepare(this.admin, this.partitions, existing);

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
      this.delivery.assigned?.(payload.memberAssignment[o.inputTopic] ?? []);
      joined();
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => this.fail(payload.error, 'consumer crashed'));
    await consumer.connect();
    await consumer.subscribe({ topic: o.inputTopic, fromBeginning: true });
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
          await this.delivery.batch(payload);
        } catch (err) {
          this.fail(err, `processing ${o.inputTopic}[${payload.batch.partition}] offsets ${payload.batch.firstOffset()}..${payload.batch.lastOffset()}`);
        }
      },
    });
    this.delivery.running?.(consumer);
    this.timers.push(setInterval(() => { void this.pollLag(); }, LAG_POLL_MS));
    await Promise.race([joinedP, this.failed.then((e) => { throw e; })]);
    void this.pollLag();
  }

  /** A stop during start-up must not leave a consumer behind that joins the group after close(). */
  private checkOpen(): void {
    if (this.closed) throw new Error('session closed while starting');
  }

  /** Creates missing input, output and dead-letter topics; returns the input partitions. */
  private async ensureTopics(admin: Admin, existing: ReadonlySet<string>): Promise<number[]> {
    const o = this.opts;
    const create = [o.inputTopic, o.outputTopic, o.deadLetterTopic]
      .filter((t) => !existing.has(t))
      .map((topic) => ({ topic, numPartitions: o.partitions }));
    if (create.length) await admin.createTopics({ topics: create, waitForLeaders: true }).catch(ignoreExists);
    const meta = await admin.fetchTopicMetadata({ topics: [o.inputTopic] });
    return meta.topics[0]!.partitions.map((p) => p.partitionId).sort((a, b) => a - b);
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
    const bounded: Bounded = async (p, what) => {
      if (!p) return;
      const timer = new AbortController();
      await Promise.race([
        p.catch((err: unknown) => this.log.debug({ err }, `${what} failed during close`)),
        sleep(15000, undefined, { signal: timer.signal, ref: false })
          .then(() => this.log.warn(`${what} did not finish within 15 s; abandoning it`), () => undefined),
      ]);
      timer.abort();
    };
    await this.delivery.beforeConsumerDisconnect?.(graceful, bounded);
    await bounded(this.consumer?.disconnect(), 'consumer disconnect');
    await this.delivery.close(graceful, bounded);
    await bounded(this.admin?.disconnect(), 'admin disconnect');
  }
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
