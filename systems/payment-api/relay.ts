// The outbox relay: publishes committed outbox rows to Kafka with an idempotent
// producer, then marks them sent. Publish and mark are not atomic, so delivery is
// at least once (a crash between them republishes; the stream processor dedups by
// message_id). Rows are only marked after the broker acknowledged them — except
// under the outbox_mark_sent_on_error defect.
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import type pg from 'pg';
import type { Logger } from 'pino';
import { PAYMENTS_TOPIC } from '../contracts.ts';
import type { PaymentApiConfig } from './config.ts';
import type { PaymentMetrics } from './metrics.ts';
import { inTransaction } from './store.ts';

interface OutboxRow {
  id: string;
  topic: string;
  message_key: string;
  /** The event as PostgreSQL renders the jsonb: published as is, never parsed here. */
  payload: string;
}

export class OutboxRelay {
  private readonly kafka: Kafka;
  private producer: Producer | null = null;
  private running = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  /** Set by nudge() while a batch runs, so the loop goes again instead of idling. */
  private nudged = false;
  pending = 0;
  kafkaConnected = false;
  private readonly pool: pg.Pool;
  private readonly config: PaymentApiConfig;
  private readonly metrics: PaymentMetrics;
  private readonly log: Logger;

  constructor(pool: pg.Pool, config: PaymentApiConfig, metrics: PaymentMetrics, log: Logger) {
    this.pool = pool;
    this.config = config;
    this.metrics = metrics;
    this.log = log.child({ component: 'outbox-relay' });
    this.kafka = new Kafka({
      clientId: 'payment-api-outbox',
      brokers: config.kafkaBrokers,
      logLevel: logLevel.NOTHING,
      connectionTimeout: 2000,
      requestTimeout: 5000,
      retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 },
    });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Called after a commit that wrote an outbox row: publish without waiting for the poll. */
  nudge(): void {
    this.nudged = true;
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    await this.disconnect();
  }

  private async ensureProducer(): Promise<Producer> {
    if (this.producer) return this.producer;
    // Idempotent: the broker drops the producer's own retried duplicates. One request
    // in flight keeps sequence numbers in order (kafkajs issue 598).
    const producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: true });
    await producer.connect();
    this.producer = producer;
    this.kafkaConnected = true;
    return producer;
  }

  private async disconnect(): Promise<void> {
    const p = this.producer;
    this.producer = null;
    this.kafkaConnected = false;
    if (p) await p.disconnect().catch(() => {});
  }

  async ensureTopic(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const topics = await admin.listTopics();
      if (!topics.includes(PAYMENTS_TOPIC)) {
        await admin.createTopics({ topics: [{ topic: PAYMENTS_TOPIC, numPartitions: 3 }], waitForLeaders: true });
      }
    } finally {
      await admin.disconnect();
    }
  }

  private async run(): Promise<void> {
    let failures = 0;
    let lastCount = 0;
    while (this.running) {
      let published = 0;
      const batchStart = performance.now();
      try {
        if (Date.now() - lastCount > 1000) {
          lastCount = Date.now();
          const r = await this.pool.query<{ n: string }>('SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL');
          this.pending = Number(r.rows[0]?.n ?? 0);
        }
        published = await this.publishBatch();
        failures = 0;
      } catch (err) {
        failures++;
        this.metrics.outboxErrors.inc();
        if (failures === 1 || failures % 50 === 0) {
          this.log.warn({ err: err instanceof Error ? err.message : String(err), failures }, 'outbox publish failed; will retry');
        }
        // A producer that failed may hold stale connections or sequence state: start a fresh one.
        await this.disconnect();
        await sleep(Math.min(2000, 50 * 2 ** Math.min(failures, 6)));
        continue;
      }
      if (published < this.config.relayBatch) {
        await this.idle();
        // Nudged soon after the last batch: let the commits of the next few ms join this one.
        const wait = batchStart + this.config.relayLingerMs - performance.now();
        if (wait > 0 && this.running) await sleep(wait);
      }
    }
  }

  private idle(): Promise<void> {
    if (this.nudged) {
      this.nudged = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const t = setTimeout(done, this.config.relayIdleMs);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = () => {
        this.wake = null;
        this.nudged = false;
        done();
      };
    });
  }

  /** One batch: lock unsent rows (other relays skip them), publish, mark sent, commit. */
  private async publishBatch(): Promise<number> {
    const published = await inTransaction(this.pool, async (client) => {
      const { rows } = await client.query<OutboxRow>(
        'SELECT id, topic, message_key, payload::text AS payload FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED',
        [this.config.relayBatch],
      );
      if (rows.length === 0) return 0;
      const byTopic = new Map<string, { key: string; value: string }[]>();
      for (const r of rows) {
        const list = byTopic.get(r.topic) ?? [];
        list.push({ key: r.message_key, value: r.payload });
        byTopic.set(r.topic, list);
      }
      try {
        const producer = await this.ensureProducer();
        await producer.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
      } catch (err) {
        if (!this.config.defects.has('outbox_mark_sent_on_error')) throw err;
        // The defect: the error is logged, and the rows are marked sent anyway.
        this.log.error({ err: err instanceof Error ? err.message : String(err), rows: rows.length }, 'kafka publish failed');
        await this.disconnect();
      }
      await client.query('UPDATE outbox SET sent_at = now() WHERE id = ANY($1::bigint[])', [rows.map((r) => r.id)]);
      return rows.length;
    });
    // Counted once committed: a failed commit leaves the rows unsent.
    if (published > 0) {
      this.metrics.outboxPublished.inc(published);
      this.metrics.outboxBatch.observe(published);
      this.pending = Math.max(0, this.pending - published);
    }
    return published;
  }
}
