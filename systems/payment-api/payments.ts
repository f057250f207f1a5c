// Creating a payment exactly once per idempotency key. The correct path claims the
// key in PostgreSQL (primary key, same transaction as the payment and its outbox
// row); Redis only answers replays faster. The seeded defects are alternative paths
// here, each the realistic shortcut that breaks one guarantee.
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { IdempotencyCache } from './cache.ts';
import { ClaimBatcher } from './claims.ts';
import type { PaymentApiConfig } from './config.ts';
import type { PaymentMetrics } from './metrics.ts';
import type { OutboxRelay } from './relay.ts';
import { ChargeRejectedError, ProviderUnavailableError, type ChargeResult, type Charger } from './stripe.ts';
import {
  findByKey, inTransaction, insertPaymentAndOutbox, isDatabaseUnavailable, isLockTimeout, newPaymentId, rowOf,
  type NewPayment, type PaymentRow, type StoredPayment,
} from './store.ts';
import { requestHash, type PaymentRequest } from './validation.ts';

export type CreateOutcome =
  | { kind: 'created'; payment: PaymentRow }
  | { kind: 'replayed'; payment: PaymentRow; source: 'cache' | 'database' | 'memory' }
  | { kind: 'mismatch'; payment: PaymentRow; fields: string[] }
  | { kind: 'in_flight' }
  /** Stripe holds this key for other parameters, and PostgreSQL has no payment for it (yet). */
  | { kind: 'provider_mismatch' };

/** A dependency is down: answer 503 with Retry-After; nothing partial was written. */
export class DependencyUnavailableError extends Error {
  override name = 'DependencyUnavailableError';
  readonly dependency: string;
  constructor(dependency: string, message: string) {
    super(message);
    this.dependency = dependency;
  }
}

const DB_DOWN_HOLD_MS = 250;

const comparedFields = ['message_id', 'amount_cents', 'currency', 'customer_id', 'test_run_id'] as const;

function compare(stored: StoredPayment, req: PaymentRequest, hash: string, source: 'cache' | 'database' | 'memory'): CreateOutcome {
  if (stored.requestHash === hash) return { kind: 'replayed', payment: stored.payment, source };
  const fields = comparedFields.filter((f) => stored.payment[f] !== req[f]);
  return { kind: 'mismatch', payment: stored.payment, fields: fields.length ? [...fields] : ['body'] };
}

export interface PaymentServiceDeps {
  pool: pg.Pool;
  cache: IdempotencyCache;
  charger: Charger;
  relay: OutboxRelay | null;
  config: PaymentApiConfig;
  metrics: PaymentMetrics;
  log: Logger;
}

export class PaymentService {
  private readonly d: PaymentServiceDeps;
  /** ack_before_commit's write-behind buffer: acknowledged, not yet committed. */
  private readonly writeBehind = new Map<string, NewPayment>();
  private flushTimer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  /** Until then the database is presumed down: answer 503 before charging anyone. */
  private dbDownUntil = 0;
  readonly claims: ClaimBatcher;

  constructor(deps: PaymentServiceDeps) {
    this.d = deps;
    this.claims = new ClaimBatcher(deps.pool, { maxBatch: deps.config.dbClaimBatch, concurrency: deps.config.dbClaimConcurrency,
      sizes: deps.metrics.claimBatch });
    if (deps.config.defects.has('ack_before_commit')) {
      this.flushTimer = setInterval(() => {
        this.flushing ??= this.flushWriteBehind().finally(() => { this.flushing = null; });
      }, 200);
    }
  }

  async close(): Promise<void> {
    if (this.flushTimer) clearInterval(this.flushTimer);
    await this.flushing;
  }

  async create(req: PaymentRequest, key: string): Promise<CreateOutcome> {
    const hash = requestHash(req);
    const defects = this.d.config.defects;
    try {
      if (defects.has('idempotency_cache_only')) return await this.createCacheOnly(req, key, hash);
      if (defects.has('ack_before_commit')) return await this.createAckBeforeCommit(req, key, hash);
      if (defects.has('idempotency_check_then_insert')) return await this.createCheckThenInsert(req, key, hash);
      return await this.createAtomic(req, key, hash);
    } catch (err) {
      if (isDatabaseUnavailable(err)) {
        this.dbDownUntil = Date.now() + DB_DOWN_HOLD_MS;
        throw new DependencyUnavailableError('postgres', `database unavailable: ${err instanceof Error ? err.message : String(err)}`);
      }
      throw err;
    }
  }

  private async fromCache(key: string, req: PaymentRequest, hash: string): Promise<CreateOutcome | null> {
    const cached = await this.d.cache.get(key);
    if (cached?.state !== 'done') return null;
    this.d.metrics.cacheHits.inc();
    return compare(cached, req, hash, 'cache');
  }

  private newPayment(req: PaymentRequest, key: string, hash: string, charge: { paymentIntentId: string; status: string }): NewPayment {
    return {
      id: newPaymentId(), key, requestHash: hash, req, stripePaymentIntentId: charge.paymentIntentId,
      status: charge.status, createdAt: new Date().toISOString(),
    };
  }

  /**
   * The correct path: charge with the request's key (Stripe deduplicates it), then
   * claim the key + payment + outbox row in one atomic statement. Whoever claims first
   * wins; everyone else replays the winner's payment. A failure anywhere before the
   * statement leaves nothing in PostgreSQL, and a retry with the same key gets the same
   * PaymentIntent back from Stripe.
   */
  private async createAtomic(req: PaymentRequest, key: string, hash: string): Promise<CreateOutcome> {
    const hit = await this.fromCache(key, req, hash);
    if (hit) return hit;
    // A charge the database cannot record would only be replayed later: while the
    // database is failing, fail fast instead (the next request after the hold tries again).
    if (Date.now() < this.dbDownUntil) {
      throw new DependencyUnavailableError('postgres', 'database unavailable (failing in the last moments); not charging until it answers');
    }
    const phase = this.d.metrics.phase;
    let mark = performance.now();
    const lap = (name: string) => {
      const now = performance.now();
      phase.observe({ phase: name }, (now - mark) / 1000);
      mark = now;
    };
    let charge: ChargeResult;
    try {
      charge = await this.d.charger.charge(req, key);
    } catch (err) {
      // Stripe refused the key (other parameters) or kept it busy (in flight): PostgreSQL says which case this is.
      const keyConflict = (err instanceof ChargeRejectedError && err.errorType === 'idempotency_error')
        || (err instanceof ProviderUnavailableError && err.lastErrorType === 'idempotency_in_flight');
      if (!keyConflict) throw err;
      const existing = await findByKey(this.d.pool, key);
      if (existing) return compare(existing, req, hash, 'database');
      return err instanceof ChargeRejectedError ? { kind: 'provider_mismatch' } : { kind: 'in_flight' };
    }
    lap('stripe');
    const p = this.newPayment(req, key, hash, charge);
    try {
      if (await this.claims.claim(p)) {
        lap('commit');
        this.d.relay?.nudge();
        const row = rowOf(p);
        void this.d.cache.putDone(key, hash, row);
        return { kind: 'created', payment: row };
      }
    } catch (err) {
      if (isLockTimeout(err)) return { kind: 'in_flight' };
      throw err;
    }
    const existing = await findByKey(this.d.pool, key);
    if (!existing) return { kind: 'in_flight' }; // claimed and rolled back meanwhile: retry
    if (existing.requestHash === hash) void this.d.cache.putDone(key, hash, existing.payment);
    return compare(existing, req, hash, 'database');
  }

  /** Defect idempotency_check_then_insert: look, charge, insert; nothing stops a racing twin. */
  private async createCheckThenInsert(req: PaymentRequest, key: string, hash: string): Promise<CreateOutcome> {
    const hit = await this.fromCache(key, req, hash);
    if (hit) return hit;
    const existing = await findByKey(this.d.pool, key);
    if (existing) return compare(existing, req, hash, 'database');
    const charge = await this.d.charger.charge(req, key);
    const p = this.newPayment(req, key, hash, charge);
    await inTransaction(this.d.pool, async (client) => {
      await insertPaymentAndOutbox(client, p);
      await client.query('INSERT INTO idempotency_keys (key, request_hash, payment_id) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING',
        [key, hash, p.id]);
    });
    this.d.relay?.nudge();
    const row = rowOf(p);
    void this.d.cache.putDone(key, hash, row);
    return { kind: 'created', payment: row };
  }

  /** Defect idempotency_cache_only: the only claim is a Redis SET NX (and Redis down means no check at all). */
  private async createCacheOnly(req: PaymentRequest, key: string, hash: string): Promise<CreateOutcome> {
    let claim = await this.d.cache.claim(key, hash);
    const deadline = Date.now() + this.d.config.inFlightWaitMs;
    while (claim !== true && claim !== null) {
      if (claim.state === 'done') {
        this.d.metrics.cacheHits.inc();
        return compare(claim, req, hash, 'cache');
      }
      if (Date.now() > deadline) return { kind: 'in_flight' };
      await sleep(20);
      claim = await this.d.cache.claim(key, hash);
    }
    try {
      const charge = await this.d.charger.charge(req, key);
      const p = this.newPayment(req, key, hash, charge);
      await inTransaction(this.d.pool, (client) => insertPaymentAndOutbox(client, p));
      this.d.relay?.nudge();
      const row = rowOf(p);
      await this.d.cache.putDone(key, hash, row);
      return { kind: 'created', payment: row };
    } catch (err) {
      await this.d.cache.release(key);
      throw err;
    }
  }

  /** Defect ack_before_commit: charge, answer 201, and let a write-behind batch commit "soon". */
  private async createAckBeforeCommit(req: PaymentRequest, key: string, hash: string): Promise<CreateOutcome> {
    const buffered = this.writeBehind.get(key);
    if (buffered) return compare({ payment: rowOf(buffered), requestHash: buffered.requestHash }, req, hash, 'memory');
    const hit = await this.fromCache(key, req, hash);
    if (hit) return hit;
    const existing = await findByKey(this.d.pool, key);
    if (existing) return compare(existing, req, hash, 'database');
    const charge = await this.d.charger.charge(req, key);
    const again = this.writeBehind.get(key);
    if (again) return compare({ payment: rowOf(again), requestHash: again.requestHash }, req, hash, 'memory');
    const p = this.newPayment(req, key, hash, charge);
    this.writeBehind.set(key, p);
    const row = rowOf(p);
    void this.d.cache.putDone(key, hash, row);
    return { kind: 'created', payment: row };
  }

  private async flushWriteBehind(): Promise<void> {
    if (this.writeBehind.size === 0) return;
    const batch = [...this.writeBehind.values()];
    for (let attempt = 1; ; attempt++) {
      try {
        await inTransaction(this.d.pool, async (client) => {
          for (const p of batch) {
            const claim = await client.query(
              'INSERT INTO idempotency_keys (key, request_hash, payment_id) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING RETURNING key',
              [p.key, p.requestHash, p.id]);
            if (claim.rowCount) await insertPaymentAndOutbox(client, p);
          }
        });
        this.d.relay?.nudge();
        break;
      } catch (err) {
        if (attempt < 2) {
          await sleep(200);
          continue;
        }
        // The bug's consequence: these payments were acknowledged and are now gone.
        this.d.log.error({ err: err instanceof Error ? err.message : String(err), payments: batch.length },
          'write-behind batch failed; dropping it');
        break;
      }
    }
    for (const p of batch) if (this.writeBehind.get(p.key) === p) this.writeBehind.delete(p.key);
  }
}
