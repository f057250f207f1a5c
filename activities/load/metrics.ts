// Live Prometheus metrics of the load worker process (one registry per process).
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { EngineMetrics } from './engine.ts';

export const loadRegistry = new Registry();

const requests = new Counter({ name: 'ordeal_load_requests_total', help: 'Load requests by outcome class (ok, timeout, http_5xx, ...)',
  labelNames: ['class'], registers: [loadRegistry] });
const latency = new Histogram({ name: 'ordeal_load_latency_seconds', help: 'Request latency from the intended send time (coordinated omission corrected)',
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [loadRegistry] });
const dropped = new Counter({ name: 'ordeal_load_dropped_total', help: 'Arrivals never sent (dropped, not_sent, cancelled)', labelNames: ['reason'], registers: [loadRegistry] });
const late = new Counter({ name: 'ordeal_load_late_total', help: 'Requests sent more than 10 ms after their intended time', registers: [loadRegistry] });
const inFlight = new Gauge({ name: 'ordeal_load_in_flight', help: 'Ledger entries in flight on this worker', registers: [loadRegistry] });
export const shardsActive = new Gauge({ name: 'ordeal_load_shards_active', help: 'Load shards running on this worker', registers: [loadRegistry] });
export const outcomesWritten = new Counter({ name: 'ordeal_load_outcomes_written_total', help: 'Final outcomes persisted to the outcome log', registers: [loadRegistry] });

// prom-client label lookups cost more than the request itself at 40k/s: cache children.
const byClass = new Map<string, Counter.Internal>();

export const promEngineMetrics: EngineMetrics = {
  request(cls, seconds, isLate) {
    let c = byClass.get(cls);
    if (!c) { c = requests.labels(cls); byClass.set(cls, c); }
    c.inc();
    latency.observe(seconds);
    if (isLate) late.inc();
  },
  dropped(reason) { dropped.labels(reason).inc(); },
  inFlight(n) { inFlight.set(n); },
};
