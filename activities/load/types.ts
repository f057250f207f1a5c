// The load phase's contract with the experiment workflow: settings (validated from
// the scenario), the shard an activity runs, and what comes back. Plain data only.
// Owned by the load engine; the workflow depends on nothing else of it.
import { z } from 'zod';
import { durationMs, positiveDurationMs } from '../scenario/duration.ts';

export const executorNames = ['constant-arrival-rate', 'ramping-arrival-rate', 'constant-vus', 'ramping-vus', 'stress'] as const;

export const stageSchema = z.object({ duration: positiveDurationMs, target: z.number().nonnegative() }).strict();

export const requestTemplateSchema = z
  .object({
    method: z.enum(['POST', 'PUT', 'PATCH', 'GET', 'DELETE']).default('POST'),
    path: z.string().startsWith('/').default('/payments'),
    headers: z.record(z.string(), z.string()).default({ 'idempotency-key': '{{idempotency_key}}' }),
    /** JSON body; string values may hold {{ledger_field}} or {{run_id}} placeholders. */
    body: z.unknown().optional(),
    /** JSON pointer-ish path of the id the system returns, recorded in the outcome log. */
    ack_id_field: z.string().default('id'),
  })
  .strict();

export const loadSettingsSchema = z
  .object({
    target: z.string().url(),
    executor: z.enum(executorNames).default('constant-arrival-rate'),
    rate: z.number().positive().optional(),
    duration: positiveDurationMs.optional(),
    stages: z.array(stageSchema).optional(),
    vus: z.number().int().positive().optional(),
    spawn_rate: z.number().positive().optional(),
    max_in_flight: z.number().int().positive().default(2000),
    mix: z.record(z.string(), z.number().nonnegative()).default({ rapid: 100 }),
    retry: z.object({ attempts: z.number().int().min(1).default(5), backoff: durationMs.default(200), same_key: z.boolean().default(true) })
      .strict().default({ attempts: 5, backoff: 200, same_key: true }),
    timeout: positiveDurationMs.default(5000),
    thresholds: z.object({
      p95_ms: z.number().positive().optional(),
      p99_ms: z.number().positive().optional(),
      error_rate: z.number().min(0).max(1).optional(),
      min_rate: z.number().positive().optional(),
    }).strict().default({}),
    request: requestTemplateSchema.optional(),
    shards: z.number().int().min(1).max(256).default(1),
  })
  .strict();
export type LoadSettings = z.output<typeof loadSettingsSchema>;

/** One activity's share of the load phase: a contiguous ledger slice at rate/N. */
export interface LoadShardInput {
  runId: string;
  shard: number;
  shards: number;
  /** Ledger seq range [from, to). */
  from: number;
  to: number;
  settings: LoadSettings;
  /** The ledger spec, so the shard regenerates its entries deterministically. */
  ledger: import('../ledger/types.ts').LedgerSpec;
}

export interface TimelinePoint {
  /** Seconds since the load phase started. */
  t: number;
  sent: number;
  ok: number;
  errors: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
}

export interface LoadCounts {
  sent: number;
  acked: number;
  failed: number;
  unknown: number;
  late: number;
  dropped: number;
  errorsByClass: Record<string, number>;
}

export interface LoadShardResult {
  shard: number;
  counts: LoadCounts;
  /** HdrHistogram, base64-compressed (hdr-histogram-js encode), corrected for coordinated omission. */
  histogram: string;
  /** The same requests measured from the actual send time. */
  histogramUncorrected: string;
  timeline: TimelinePoint[];
  startedAt: string;
  endedAt: string;
}

/** What the load phase reports to the workflow (merged over shards). */
export interface LoadSummary {
  counts: LoadCounts;
  latency_ms: { p50: number; p95: number; p99: number; max: number };
  latency_uncorrected_ms: { p50: number; p95: number; p99: number; max: number };
  achieved_rate: number;
  timeline: TimelinePoint[];
  thresholds: { name: string; limit: number; actual: number; ok: boolean }[];
}
