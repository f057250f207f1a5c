// How fetched `payments` records become settlements: the one seam between the
// processor's consumer session (processor.ts: topics, group membership, lag, restarts)
// and its delivery modes. exactly-once.ts is the correct system, the one to read and
// to copy; defect-delivery.ts holds the two seeded defects, which break in the ways
// real consumers do.
import type { Admin, Consumer, EachBatchPayload, Kafka, KafkaMessage, Message } from 'kafkajs';
import type { Logger } from 'pino';
import type { Metrics } from './metrics.ts';
import type { ProcessorOptions } from './processor.ts';
import { parsePaymentEvent, settle } from './settlement.ts';

/** What a delivery may use of the session it runs in. */
export interface DeliveryContext {
  readonly kafka: Kafka;
  readonly opts: ProcessorOptions;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** Ends the session with this error (the first one wins): it is then thrown away whole and restarted. */
  fail(err: unknown, where: string): void;
  /** True once the session has failed: work in hand stops. */
  failed(): boolean;
  /** Throws when the session was closed while starting (a stop during start-up). */
  checkOpen(): void;
  /** Runs work every `ms` until the session closes. */
  every(ms: number, work: () => void): void;
}

/** Awaits work for a bounded time while a session closes (a dead broker must not hang a restart). */
export type Bounded = (work: Promise<unknown> | undefined, what: string) => Promise<void>;

export interface Delivery {
  /**
   * Before the consumer joins the group: the topics this delivery needs beyond input,
   * output and dead letter (`existing`: the topics there were), and its producers.
   */
  prepare(admin: Admin, partitions: number[], existing: ReadonlySet<string>): Promise<void>;
  /** One fetched, non-empty batch of one input partition; a throw fails the session. */
  batch(payload: EachBatchPayload): Promise<void>;
  /** Settled message_ids it remembers (the status page and a gauge show it). */
  dedupEntries(): number;
  /** The consumer runs: periodic work that needs it starts here. */
  running?(consumer: Consumer): void;
  /** The group assigned this process these input partitions. */
  assigned?(partitions: number[]): void;
  /** The session closes and the consumer is still connected (graceful: a clean stop, not a failure). */
  beforeConsumerDisconnect?(graceful: boolean, bounded: Bounded): Promise<void>;
  /** The consumer has disconnected: what is buffered goes out (graceful), then the producers close. */
  close(graceful: boolean, bounded: Bounded): Promise<void>;
}

/** Producer retries: bounded on purpose, so that a stuck send ends the session instead of hanging it. */
export const PRODUCER_RETRY = { retries: 10, initialRetryTime: 100, maxRetryTime: 2000 };

/** A batch sorted into settlements of message_ids not settled before, and dead letters. */
export interface SortedBatch {
  settled: Message[];
  /** message_id → input offset of each settled id, in input order. */
  fresh: Map<string, string>;
  dead: Message[];
  duplicates: number;
}

/**
 * Settles each record whose message_id is neither `known` nor earlier in the same
 * batch; records that are not PaymentEvents become dead letters (they never stop the
 * pipeline). What counts as known, and when fresh ids become known, is the delivery's.
 */
export function sortBatch(inputTopic: string, partition: number, messages: KafkaMessage[], known: (id: string) => boolean): SortedBatch {
  const out: SortedBatch = { settled: [], fresh: new Map(), dead: [], duplicates: 0 };
  const now = new Date();
  for (const m of messages) {
    const parsed = parsePaymentEvent(m.value);
    if (!parsed.ok) {
      out.dead.push({ key: m.key, value: m.value, headers: { error: parsed.error, source: `${inputTopic}/${partition}/${m.offset}` } });
      continue;
    }
    const id = parsed.event.message_id;
    if (known(id) || out.fresh.has(id)) { out.duplicates++; continue; }
    out.fresh.set(id, m.offset);
    out.settled.push({ key: id, value: JSON.stringify(settle(parsed.event, now)) });
  }
  return out;
}

/** The offset a consumer resumes from after `offset` is done. */
export const nextOffset = (offset: string): string => (BigInt(offset) + 1n).toString();

/** Topic creation races (another process, an earlier attempt) are not errors. */
export function ignoreExists(err: unknown): void {
  if (err instanceof Error && /already exists/i.test(err.message)) return;
  if ((err as { type?: string }).type === 'TOPIC_ALREADY_EXISTS') return;
  throw err;
}
