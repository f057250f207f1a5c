// Live Prometheus metrics of the load worker process (one registry per process).
// Request metrics carry `scenario` and `run_id`, so dashboards pick one run. Cardinality
// stays bounded: a run's series live while one of its shards runs here and for a
// linger after the last one ends (so Prometheus scrapes the final values), then go.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { EngineMetrics } from './engine.ts';

export const loadRegistry = new Registry();

const runLabels = ['scenario', 'run_id'] as const;
const requests = new Counter({ name: 'ordeal_load_requests_total', help: 'Load requests by run and outcome class (ok, timeout, http_5xx, ...)',
  labelNames: [...runLabels, 'class'], registers: [loadRegistry] });
const latency = new Histogram({ name: 'ordeal_load_latency_seconds', help: 'Request latency from the intended send time (coordinated omission corrected)',
  labelNames: runLabels, buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [loadRegistry] });
const dropped = new Counter({ name: 'ordeal_load_dropped_total', help: 'Arrivals never sent (dropped, not_sent, cancelled)',
  labelNames: [...runLabels, 'reason'], registers: [loadRegistry] });
const late = new Counter({ name: 'ordeal_load_late_total', help: 'Requests sent more than 10 ms after their intended time', labelNames: runLabels, registers: [loadRegistry] });
const inFlight = new Gauge({ name: 'ordeal_load_in_flight', help: 'Ledger entries in flight on this worker', labelNames: runLabels, registers: [loadRegistry] });
const outcomes = new Counter({ name: 'ordeal_load_outcomes_written_total', help: 'Final outcomes persisted to the outcome log', labelNames: runLabels, registers: [loadRegistry] });
export const shardsActive = new Gauge({ name: 'ordeal_load_shards_active', help: 'Load shards running on this worker', registers: [loadRegistry] });
const runsTracked = new Gauge({ name: 'ordeal_load_runs_tracked', help: 'Runs whose labelled series this worker currently exports (running or lingering)', registers: [loadRegistry] });

/** How long a finished run's series stay (several scrape intervals). */
export const RUN_SERIES_LINGER_MS = Number(process.env.ORDEAL_LOAD_METRICS_LINGER_MS ?? 60_000);

interface RunSeries {
  labels: { scenario: string; run_id: string };
  shards: number;
  inFlight: Map<object, number>;
  classes: Set<string>;
  reasons: Set<string>;
  // prom-client label lookups cost more than the request itself at 40k/s: cache children.
  byClass: Map<string, Counter.Internal>;
  latency: Histogram.Internal<(typeof runLabels)[number]>;
  late: Counter.Internal;
  outcomes: Counter.Internal;
  drop?: NodeJS.Timeout;
}
const runs = new Map<string, RunSeries>();

function removeRun(key: string): void {
  const r = runs.get(key);
  if (!r || r.shards > 0) return;
  const { scenario, run_id } = r.labels;
  for (const c of r.classes) requests.remove(scenario, run_id, c);
  for (const c of r.reasons) dropped.remove(scenario, run_id, c);
  latency.remove(scenario, run_id);
  late.remove(scenario, run_id);
  inFlight.remove(scenario, run_id);
  outcomes.remove(scenario, run_id);
  runs.delete(key);
  runsTracked.set(runs.size);
}

function setInFlight(run: RunSeries): void {
  let sum = 0;
  for (const v of run.inFlight.values()) sum += v;
  inFlight.labels(run.labels).set(sum);
}

/** The metrics of one shard of one run; `release()` when the shard ends. */
export interface ShardMetrics extends EngineMetrics {
  outcomesWritten(n: number): void;
  release(): void;
}

export function shardMetrics(scenario: string, runId: string, lingerMs = RUN_SERIES_LINGER_MS): ShardMetrics {
  const key = `${scenario}\u0000${runId}`;
  let r = runs.get(key);
  if (!r) {
    const labels = { scenario, run_id: runId };
    r = { labels, shards: 0, inFlight: new Map(), classes: new Set(), reasons: new Set(), byClass: new Map(),
      latency: latency.labels(labels), late: late.labels(labels), outcomes: outcomes.labels(labels) };
    runs.set(key, r);
    runsTracked.set(runs.size);
  }
  const run = r;
  if (run.drop) { clearTimeout(run.drop); delete run.drop; }
  run.shards++;
  const self = {};
  let released = false;
  return {
    request(cls, seconds, isLate) {
      let c = run.byClass.get(cls);
      if (!c) { c = requests.labels(scenario, runId, cls); run.byClass.set(cls, c); run.classes.add(cls); }
      c.inc();
      run.latency.observe(seconds);
      if (isLate) run.late.inc();
    },
    dropped(reason) { run.reasons.add(reason); dropped.labels(scenario, runId, reason).inc(); },
    inFlight(n) {
      // Shards of one run on one worker each report their own count: the gauge is their sum.
      run.inFlight.set(self, n);
      setInFlight(run);
    },
    outcomesWritten(n) { run.outcomes.inc(n); },
    release() {
      if (released) return;
      released = true;
      run.inFlight.delete(self);
      run.shards--;
      setInFlight(run);
      if (run.shards > 0) return;
      if (lingerMs <= 0) { removeRun(key); return; }
      run.drop = setTimeout(() => removeRun(key), lingerMs);
      run.drop.unref();
    },
  };
}
