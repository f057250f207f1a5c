// Redis: the idempotency fast path. Only ever written after the PostgreSQL commit,
// so a hit is always a committed payment. Any Redis failure is a miss: correctness
// never depends on Redis (except under the idempotency_cache_only defect).
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { PaymentRow } from './store.ts';

export interface CachedPayment {
  state: 'done';
  requestHash: string;
  payment: PaymentRow;
}
export interface PendingClaim {
  state: 'pending';
  requestHash: string;
}
export type CacheEntry = CachedPayment | PendingClaim;

const TTL_SECONDS = 24 * 3600;
const PENDING_TTL_SECONDS = 30;
const k = (key: string) => `idem:${key}`;

export class IdempotencyCache {
  readonly redis: Redis | null;
  private readonly log: Logger;
  private lastErrorLog = 0;

  constructor(url: string | null, log: Logger) {
    this.log = log;
    this.redis = url
      ? new Redis(url, {
        lazyConnect: false,
        // Down means "miss", immediately: no queueing, no retries, a short timeout.
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        commandTimeout: 250,
        connectTimeout: 1000,
        retryStrategy: (times) => Math.min(100 * times, 1000),
        // Under load many requests look up or store keys in the same tick: one socket
        // write (and one toxiproxy hop) for all of them instead of one each.
        enableAutoPipelining: true,
      })
      : null;
    this.redis?.on('error', (err: Error) => this.warn('redis error', err));
  }

  /** Redis's used_memory (INFO memory), null without Redis or while it is unreachable. */
  async memoryUsedBytes(): Promise<number | null> {
    if (!this.redis || this.redis.status !== 'ready') return null;
    const m = /^used_memory:(\d+)/m.exec(await this.redis.info('memory'));
    return m ? Number(m[1]) : null;
  }

  private warn(msg: string, err: unknown): void {
    // A Redis outage produces an error per command; one line per second is enough.
    if (Date.now() - this.lastErrorLog < 1000) return;
    this.lastErrorLog = Date.now();
    this.log.warn({ err: err instanceof Error ? err.message : String(err) }, msg);
  }

  get available(): boolean {
    return this.redis?.status === 'ready';
  }

  async get(key: string): Promise<CacheEntry | null> {
    if (!this.redis || !this.available) return null;
    try {
      const raw = await this.redis.get(k(key));
      return raw ? (JSON.parse(raw) as CacheEntry) : null;
    } catch (err) {
      this.warn('redis get failed; treating as a miss', err);
      return null;
    }
  }

  /** Best effort: stores a committed payment for fast replays. */
  async putDone(key: string, requestHash: string, payment: PaymentRow): Promise<void> {
    if (!this.redis || !this.available) return;
    const entry: CachedPayment = { state: 'done', requestHash, payment };
    try {
      await this.redis.set(k(key), JSON.stringify(entry), 'EX', TTL_SECONDS);
    } catch (err) {
      this.warn('redis set failed', err);
    }
  }

  /**
   * The defective "claim" of idempotency_cache_only: SET NX in Redis. Returns true when
   * claimed, the existing entry when the key is taken, and null when Redis is
   * unavailable (the defective code then proceeds without any deduplication).
   */
  async claim(key: string, requestHash: string): Promise<true | CacheEntry | null> {
    if (!this.redis || !this.available) return null;
    try {
      const pending: PendingClaim = { state: 'pending', requestHash };
      const ok = await this.redis.set(k(key), JSON.stringify(pending), 'EX', PENDING_TTL_SECONDS, 'NX');
      if (ok === 'OK') return true;
      const raw = await this.redis.get(k(key));
      return raw ? (JSON.parse(raw) as CacheEntry) : null;
    } catch (err) {
      this.warn('redis claim failed', err);
      return null;
    }
  }

  async release(key: string): Promise<void> {
    if (!this.redis || !this.available) return;
    try {
      await this.redis.del(k(key));
    } catch (err) {
      this.warn('redis del failed', err);
    }
  }

  async ping(): Promise<boolean> {
    if (!this.redis || !this.available) return false;
    try {
      return (await this.redis.ping()) === 'PONG';
    } catch {
      return false;
    }
  }

  close(): void {
    this.redis?.disconnect();
  }
}
