// The product description's metric names, on a registry per API instance (tests
// run several instances in one process).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface PaymentMetrics {
  registry: Registry;
  requests: Counter<'status'>;
  duration: Histogram<'outcome'>;
  amount: Counter<'currency'>;
  duplicates: Counter<'source'>;
  cacheHits: Counter;
  stripeErrors: Counter<'error_type'>;
  poolActive: Gauge;
  redisMemory: Gauge;
  outboxPublished: Counter;
  outboxPending: Gauge;
  outboxErrors: Counter;
  phase: Histogram<'phase'>;
  claimBatch: Histogram;
  outboxBatch: Histogram;
}

export function createMetrics(poolActive: () => number, outboxPending: () => number,
  redisMemory: () => Promise<number | null> = async () => null): PaymentMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    requests: new Counter({ name: 'payment_requests_total', help: 'POST /payments answers by HTTP status', labelNames: ['status'], registers }),
    duration: new Histogram({
      name: 'payment_processing_duration_seconds', help: 'POST /payments processing time', labelNames: ['outcome'], registers,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    }),
    amount: new Counter({ name: 'payment_amount_cents_total', help: 'Sum of amount_cents of created payments', labelNames: ['currency'], registers }),
    duplicates: new Counter({
      name: 'duplicate_payments_detected_total', help: 'Requests for a key that already has a payment (answered by replay, not charged again)',
      labelNames: ['source'], registers,
    }),
    cacheHits: new Counter({ name: 'idempotency_cache_hits_total', help: 'Replays answered from the Redis fast path', registers }),
    stripeErrors: new Counter({ name: 'stripe_api_errors_total', help: 'Failed Stripe calls by error type', labelNames: ['error_type'], registers }),
    poolActive: new Gauge({
      name: 'database_connection_pool_active', help: 'PostgreSQL connections checked out of the pool', registers,
      collect() { this.set(poolActive()); },
    }),
    // Redis's own figure (INFO memory), read at scrape time: the stack runs no Redis exporter.
    redisMemory: new Gauge({
      name: 'redis_memory_used_bytes', help: 'Memory Redis reports in use (INFO memory used_memory); absent while Redis is unreachable', registers,
      async collect() { const v = await redisMemory().catch(() => null); if (v === null) this.reset(); else this.set(v); },
    }),
    outboxPublished: new Counter({ name: 'outbox_published_total', help: 'Outbox events published to Kafka', registers }),
    outboxPending: new Gauge({
      name: 'outbox_pending', help: 'Outbox rows not yet published (as of the relay\'s last poll)', registers,
      collect() { this.set(outboxPending()); },
    }),
    outboxErrors: new Counter({ name: 'outbox_publish_errors_total', help: 'Failed outbox publish attempts', registers }),
    phase: new Histogram({
      name: 'payment_phase_duration_seconds', help: 'Time in each phase of creating a payment (where latency comes from)',
      labelNames: ['phase'], registers, buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    }),
    claimBatch: new Histogram({
      name: 'payment_claim_batch_size', help: 'Payments written per claim statement (group commit)', registers,
      buckets: [1, 2, 4, 8, 16, 32, 64, 128],
    }),
    outboxBatch: new Histogram({
      name: 'outbox_publish_batch_size', help: 'Outbox events per Kafka publish', registers,
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
    }),
  };
}
