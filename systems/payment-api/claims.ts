// Group commit for the correct path's write. Every payment still gets its claim,
// payment row and outbox row in one transaction, acknowledged only after the commit;
// payments that reach the database together share that transaction (one statement,
// one round trip, one WAL flush), which is where PostgreSQL's per-payment CPU went.
// An idle API sends a lone payment straight away: batching only forms while earlier
// statements are still running, so it adds no wait at low load.
import type pg from 'pg';
import type { Histogram } from 'prom-client';
import { insertClaimedPayment, insertClaimedPayments, isDeadlock, isLockTimeout, type NewPayment } from './store.ts';

interface Waiter {
  p: NewPayment;
  resolve: (claimed: boolean) => void;
  reject: (err: unknown) => void;
}

export interface ClaimBatcherOptions {
  /** Most payments per statement; 1 turns batching off. */
  maxBatch: number;
  /** Statements in flight at once (each holds one pooled connection). */
  concurrency: number;
  /** Observes each statement's payment count. */
  sizes?: Histogram;
}

export class ClaimBatcher {
  private readonly pool: pg.Pool;
  private readonly opts: ClaimBatcherOptions;
  private queue: Waiter[] = [];
  private inFlight = 0;

  constructor(pool: pg.Pool, opts: ClaimBatcherOptions) {
    this.pool = pool;
    this.opts = { ...opts, maxBatch: Math.max(1, opts.maxBatch), concurrency: Math.max(1, opts.concurrency) };
  }

  /**
   * Claims the key and writes the payment and its outbox row, committed. Resolves false
   * when the key was already claimed; rejects with the database's error (nothing of this
   * payment was written), as insertClaimedPayment does.
   */
  claim(p: NewPayment): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.queue.push({ p, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.opts.concurrency && this.queue.length > 0) {
      const batch = this.take();
      this.inFlight++;
      void this.write(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  /** The oldest waiters, one per key: a second request for a key goes in a later statement, where it loses the claim. */
  private take(): Waiter[] {
    const batch: Waiter[] = [];
    const keys = new Set<string>();
    const rest: Waiter[] = [];
    for (const w of this.queue) {
      if (batch.length < this.opts.maxBatch && !keys.has(w.p.key)) {
        keys.add(w.p.key);
        batch.push(w);
      } else {
        rest.push(w);
      }
    }
    this.queue = rest;
    return batch;
  }

  private async write(batch: Waiter[]): Promise<void> {
    this.opts.sizes?.observe(batch.length);
    if (batch.length === 1) {
      const w = batch[0]!;
      await insertClaimedPayment(this.pool, w.p).then(w.resolve, w.reject);
      return;
    }
    let claimed: Set<string>;
    try {
      claimed = await insertClaimedPayments(this.pool, batch.map((w) => w.p));
    } catch (err) {
      // One member's key is held by a transaction still open elsewhere (or two batches
      // from different processes crossed): the others must not share its wait or its
      // 409. The statement rolled back whole, so each is written on its own.
      if (isLockTimeout(err) || isDeadlock(err)) {
        await Promise.all(batch.map((w) => insertClaimedPayment(this.pool, w.p).then(w.resolve, w.reject)));
        return;
      }
      for (const w of batch) w.reject(err);
      return;
    }
    for (const w of batch) w.resolve(claimed.has(w.p.id));
  }
}
