// Faults as data: the scenario's fault spec, and the handle injection returns. A
// handle is plain serialisable data (it lives in workflow history), so any worker
// can revert it; revert is idempotent.
import { z } from 'zod';
import { durationMs, positiveDurationMs } from '../scenario/duration.ts';

export const faultTypes = [
  'database_kill', 'service_kill', 'process_pause',
  'network_latency', 'network_bandwidth', 'network_timeout', 'network_reset', 'network_partition', 'network_slow_close',
  'provider_errors', 'provider_latency', 'provider_response_lost',
  'disk_full', 'memory_pressure', 'cpu_spike',
] as const;
export type FaultType = (typeof faultTypes)[number];

export const faultSpecSchema = z
  .object({
    type: z.enum(faultTypes),
    /** A stack service (postgres, redis, kafka, stream-processor, ...), a toxiproxy proxy, or a docker container label. */
    target: z.string().min(1),
    at: durationMs,
    duration: positiveDurationMs,
    backend: z.enum(['process', 'docker', 'toxiproxy', 'provider']).optional(),
    /** Restart the target after a kill/pause (true unless the scenario tests a non-restarted outage). */
    restart: z.boolean().default(true),
    params: z.record(z.string(), z.union([z.number(), z.string(), z.boolean()])).default({}),
  })
  .strict();
export type FaultSpec = z.output<typeof faultSpecSchema>;

export interface FaultHandle {
  faultId: string;
  runId: string;
  type: FaultType;
  target: string;
  backend: 'process' | 'docker' | 'toxiproxy' | 'provider';
  injectedAt: string;
  /** After this instant the stack's watchdog reverts the fault if nobody else did. */
  leaseExpiresAt: string;
  /** Backend-specific data needed to revert (pid, toxic name, container id...). */
  revert: Record<string, string | number | boolean>;
}

export interface FaultEvidence {
  faultId: string;
  observedAt: string;
  /** e.g. "postgres pid 1234 gone", "toxic latency_db on proxy postgres: 500ms". */
  description: string;
  ok: boolean;
}

export interface RevertResult {
  faultId: string;
  reverted: boolean;
  alreadyReverted: boolean;
  error?: string;
}
