// The load phase's contract with the experiment workflow: settings (validated from
// the scenario), the shard an activity runs, and what comes back. Plain data only:
// no Node built-ins, so workflows may import it.
import { z } from 'zod';
import { durationMs, positiveDurationMs } from '../scenario/duration.ts';

export const executorNames = ['constant-arrival-rate', 'ramping-arrival-rate', 'constant-vus', 'ramping-vus', 'stress'] as const;

/** User patterns from the product description; `mix` weights them per ledger entry. */
export const patternNames = ['rapid', 'checkout', 'idempotency_race', 'retry'] as const;
export type PatternName = (typeof patternNames)[number];

/** Ledger fields (and the run id) a request template may reference as {{name}}. */
/**
 * amount_major: the amount in major units as a decimal string ("12.34"; "1234" for
 * jpy), currency_upper: the ISO code upper-case ("USD"): what most real APIs take.
 */
export const templateFields = ['message_id', 'idempotency_key', 'amount_cents', 'amount_major', 'currency', 'currency_upper', 'customer_id', 'run_id', 'seq'] as const;

export const stageSchema = z.object({ duration: positiveDurationMs, target: z.number().nonnegative() }).strict();
export type Stage = z.output<typeof stageSchema>;

export const requestTemplateSchema = z
  .object({
    method: z.enum(['POST', 'PUT', 'PATCH', 'GET', 'DELETE']).default('POST'),
    path: z.string().startsWith('/').default('/payments'),
    headers: z.record(z.string(), z.string()).default({ 'idempotency-key': '{{idempotency_key}}' }),
    /** JSON body; string values may hold {{ledger_field}} or {{run_id}} placeholders. */
    body: z.unknown().optional(),
    /** Dotted path of the id the system returns (e.g. `id` or `payment.id`), recorded in the outcome log. */
    ack_id_field: z.string().default('id'),
  })
  .strict();
export type RequestTemplate = z.output<typeof requestTemplateSchema>;

const thinkTime = z.union([positiveDurationMs.transform((v) => [v, v] as [number, number]),
  z.tuple([durationMs, durationMs])]).refine(([a, b]) => a <= b, { message: 'think_time is [min, max] with min <= max' });

export const loadSettingsSchema = z
  .object({
    target: z.string().url(),
    executor: z.enum(executorNames).default('constant-arrival-rate'),
    /** Arrivals per second (arrival-rate executors; the start rate of ramping/stress when stages are given). */
    rate: z.number().nonnegative().optional(),
    duration: positiveDurationMs.optional(),
    stages: z.array(stageSchema).min(1).optional(),
    vus: z.number().int().positive().optional(),
    spawn_rate: z.number().nonnegative().optional(),
    /** Open model: concurrent requests allowed before arrivals queue (then count as late). */
    max_in_flight: z.number().int().positive().default(2000),
    /** An arrival still queued this long after its intended time is dropped (outcome unknown, redelivered later). */
    drop_after: positiveDurationMs.default(10_000),
    mix: z.record(z.string(), z.number().nonnegative()).default({ rapid: 100 }),
    retry: z.object({ attempts: z.number().int().min(1).default(5), backoff: durationMs.default(200), same_key: z.boolean().default(true) })
      .strict().default({ attempts: 5, backoff: 200, same_key: true }),
    /** Closed model (vus executors): pause between a rapid user's requests ("1 req/s per user"). */
    pacing: durationMs.default(1000),
    checkout: z.object({
      think_time: thinkTime.default([1000, 3000]),
      /** Weighted tasks of a checkout user; `pay` consumes a ledger entry, `status` reads the payment back. */
      tasks: z.object({ pay: z.number().nonnegative().default(10), status: z.number().nonnegative().default(0) }).strict()
        .default({ pay: 10, status: 0 }),
      status_path: z.string().startsWith('/').default('/payments/{{payment_id}}'),
    }).strict().default({ think_time: [1000, 3000], tasks: { pay: 10, status: 0 }, status_path: '/payments/{{payment_id}}' }),
    timeout: positiveDurationMs.default(5000),
    /**
     * The first seconds of the phase, while pools, JIT and caches warm up: left out of the
     * steady-state thresholds; constant-arrival-rate also ramps its rate up linearly over them.
     */
    warmup: durationMs.default(0),
    thresholds: z.object({
      p95_ms: z.number().positive().optional(),
      p99_ms: z.number().positive().optional(),
      error_rate: z.number().min(0).max(1).optional(),
      min_rate: z.number().nonnegative().optional(),
      /**
       * `steady` (default): judged on the seconds outside the warm-up and outside every fault
       * window (injection, the fault, recovery and `settle` after it) — an SLO is a steady-state
       * promise, and the fault window's own numbers are reported beside it. `all`: every second.
       */
      scope: z.enum(['steady', 'all']).default('steady'),
      /** After the recovery, how long the system may take to drain its backlog before seconds count again. */
      settle: durationMs.default(5000),
    }).strict().default({ scope: 'steady', settle: 5000 }),
    request: requestTemplateSchema.optional(),
    shards: z.number().int().min(1).max(256).default(1),
  })
  .strict();
export type LoadSettings = z.output<typeof loadSettingsSchema>;

/** One activity's share of the load phase: a contiguous ledger slice at rate/N. */
export interface LoadShardInput {
  runId: string;
  /** The scenario's name, for the live metrics' `scenario` label. */
  scenario?: string;
  shard: number;
  shards: number;
  /** Ledger seq range [from, to). */
  from: number;
  to: number;
  /** This shard's settings: rates, stage targets and VUs already divided by the shard count. */
  settings: LoadSettings;
  /** The ledger spec, so the shard regenerates its entries deterministically. */
  ledger: import('../ledger/types.ts').LedgerSpec;
  /** When set, the shard signals this workflow `loadProgress` about once a second. */
  progress?: { workflowId: string };
}

/** Payload of the `loadProgress` signal. */
export interface LoadProgress {
  shard: number;
  counts: LoadCounts;
  /** Requests per second over the last interval. */
  rate: number;
  p99_ms: number;
  /** When the shard sent this (its worker's clock, ms): a shard that stops sending is a harness gap opening (the live view). */
  at_ms?: number;
  /** The harness gaps this shard knows so far (earlier resumes, starved stretches), each closed. */
  gaps?: HarnessGap[];
}
export { LOAD_PROGRESS_SIGNAL as loadProgressSignalName, LOAD_TASK_QUEUE as loadTaskQueue } from '../../workflows/names.ts';

export interface TimelinePoint {
  /** Seconds since the load phase started. */
  t: number;
  sent: number;
  ok: number;
  errors: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
  /** This second's corrected latency histogram (compressed base64), so shard timelines merge exactly. */
  hist?: string;
}

export interface LoadCounts {
  /** Ledger entries whose first request went out. */
  sent: number;
  /** HTTP requests, including retries, race twins and status reads. */
  requests: number;
  /** Final outcomes per ledger entry: acked + failed + unknown = entries handled. */
  acked: number;
  failed: number;
  unknown: number;
  /** Requests that went out more than 10 ms after their intended time. */
  late: number;
  /** Arrivals never sent (queued past drop_after, or cut by the duration / cancellation). */
  dropped: number;
  /** Retry attempts beyond the first request. */
  retries: number;
  /** timeout, connection_refused, connection_reset, http_4xx, http_409, http_429, http_5xx, assertion, dropped, ... */
  errorsByClass: Record<string, number>;
}

/** An idempotency race whose two answers named different payments (or a retry that did). */
export interface IdempotencyMismatch {
  message_id: string;
  idempotency_key: string;
  payment_ids: (string | null)[];
  pattern: 'idempotency_race' | 'retry';
}

export interface StressStageResult {
  /** Total target rate of the stage (over all shards). */
  rate: number;
  achieved_rate: number;
  p95_ms: number;
  p99_ms: number;
  error_rate: number;
  ok: boolean;
  reasons: string[];
}

export interface LoadShardResult {
  shard: number;
  counts: LoadCounts;
  /** HdrHistogram (µs), compressed base64 (hdr-histogram-js encode), corrected for coordinated omission. */
  histogram: string;
  /** The same requests measured from the actual send time. */
  histogramUncorrected: string;
  timeline: TimelinePoint[];
  startedAt: string;
  endedAt: string;
  /** Seconds spent sending (excludes time a crashed worker was away). */
  activeSeconds: number;
  mismatches: IdempotencyMismatch[];
  stress?: StressStageResult[];
  /** Worker identities that ran this shard (more than one after a resume). */
  workers: string[];
  /** Attempt that finished the shard (> 1 after a crash and resume). */
  attempt: number;
  cancelled: boolean;
  /** Stretches in which no load worker was sending for this shard (absent: none, or an older result). */
  gaps?: HarnessGap[];
}

/**
 * A harness gap: wall-clock time in which no load worker was sending for a shard — its
 * worker killed or lost (the shard resumed on another attempt), or its worker's event
 * loop starved. The harness's outage, not the system's: left out of the thresholds.
 */
export interface HarnessGap {
  shard: number;
  kind: 'resumed' | 'starved';
  fromMs: number;
  toMs: number;
  why: string;
}

export interface LatencySummary { p50: number; p95: number; p99: number; max: number; mean: number }

/** A stretch of the load phase left out of the steady-state thresholds, in seconds since the phase started. */
export interface ExcludedRange { from_s: number; to_s: number; why: string; kind?: ExcludedKind }

/** Why seconds are left out: drawn in their own colour (absent in older reports: warm-up or fault). */
export type ExcludedKind = 'warmup' | 'fault' | 'harness_gap';

/** The same, as the workflow knows it: wall-clock ms (the summary maps it onto the timeline). */
export interface ExcludedWindow { fromMs: number; toMs: number; why: string; kind?: ExcludedKind }

/** Requests whose intended second falls in a set of seconds. */
export interface WindowStats {
  seconds: number;
  requests: number;
  errors: number;
  error_rate: number;
  /** Requests per second over those seconds. */
  rate: number;
  /** From per-second histograms (2 significant digits). */
  latency_ms: LatencySummary;
  /** false when some seconds had only percentiles left (older than the heartbeat's histogram window): then the worst second's. */
  exact: boolean;
}

/** Which seconds the thresholds were judged on, and what the left-out seconds looked like. */
export interface ThresholdWindows {
  scope: 'steady' | 'all';
  excluded: ExcludedRange[];
  judged: WindowStats;
  /** The excluded seconds (warm-up, faults, recovery): what users saw while the system was disturbed. */
  disturbed: WindowStats | null;
  note?: string;
}

/** What the load phase reports to the workflow (merged over shards). */
export interface LoadSummary {
  counts: LoadCounts;
  latency_ms: LatencySummary;
  latency_uncorrected_ms: LatencySummary;
  /** Requests per second over the load phase. */
  achieved_rate: number;
  error_rate: number;
  timeline: TimelinePoint[];
  thresholds: { name: string; limit: number; actual: number; ok: boolean; reason: string }[];
  thresholdsOk: boolean;
  /** Absent in summaries written before steady-state judging existed. */
  windows?: ThresholdWindows;
  mismatches: IdempotencyMismatch[];
  /** Harness gaps of every shard, in seconds since the phase started (absent: none). */
  harness_gaps?: (ExcludedRange & { shard: number })[];
  /** Stress executor: the highest total rate whose stage met every threshold (null: none did). */
  knee_rate?: number | null;
  stress?: StressStageResult[];
  workers: string[];
  cancelled: boolean;
}

export type OutcomeStatus = 'acknowledged' | 'failed' | 'unknown';

/** What a ledger entry's final outcome says, in memory (EntryOutcome) and as stored (OutcomeRow). */
export interface OutcomeFields {
  seq: number;
  message_id: string;
  idempotency_key: string;
  status: OutcomeStatus;
  /** The system's id for the payment (ack_id_field of the 2xx answer). */
  payment_id: string | null;
  /** Requests that carried this entry's payment (retries included). */
  attempts: number;
  error_class: string | null;
  http_status: number | null;
}

/** One final outcome per ledger entry, as stored in Ordeal's database. */
export interface OutcomeRow extends OutcomeFields {
  run_id: string;
  shard: number;
  redelivered: boolean;
}
