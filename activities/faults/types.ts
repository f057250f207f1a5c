// Faults as data: the scenario's fault spec, and the handle injection returns. A
// handle is plain serialisable data (it lives in workflow history), so any worker
// can revert it; revert is idempotent.
import { z } from 'zod';
import { durationMs, positiveDurationMs } from '../scenario/duration.ts';
import type { SystemFile } from '../system/schema.ts';

export const faultTypes = [
  'database_kill', 'service_kill', 'process_pause',
  'network_latency', 'network_bandwidth', 'network_timeout', 'network_reset', 'network_partition', 'network_slow_close',
  'provider_errors', 'provider_latency', 'provider_response_lost',
  'disk_full', 'memory_pressure', 'cpu_spike',
] as const;
export type FaultType = (typeof faultTypes)[number];

/**
 * process: the embedded stack's processes (kill by pid file, SIGSTOP/SIGCONT);
 * docker: the containers of services declared `kind: docker` (labelled ordeal.target=true); toxiproxy: the stack's proxies;
 * provider: the Stripe emulator's admin API; host: resource hogs on this machine
 * (disk_full, memory_pressure, cpu_spike).
 */
export const faultBackends = ['process', 'docker', 'toxiproxy', 'provider', 'host'] as const;
export type FaultBackendName = (typeof faultBackends)[number];

export const faultSpecSchema = z
  .object({
    type: z.enum(faultTypes),
    /** A service or proxy the system file declares (the embedded stack's: postgres, redis, kafka, stream-processor, ...). */
    target: z.string().min(1),
    at: durationMs,
    duration: positiveDurationMs,
    /** Inferred when absent (network_* → toxiproxy, provider_* → provider, resources → host, a docker service → docker, else process). */
    backend: z.enum(faultBackends).optional(),
    /** Restart the target after a kill/pause (true unless the scenario tests a non-restarted outage). */
    restart: z.boolean().default(true),
    params: z.record(z.string(), z.union([z.number(), z.string(), z.boolean()])).default({}),
  })
  .strict();
export type FaultSpec = z.output<typeof faultSpecSchema>;
/** What callers may pass: at/duration/restart/params have defaults or are not needed to inject. */
export type FaultSpecInput = z.input<typeof faultSpecSchema>;

export interface FaultHandle {
  faultId: string;
  runId: string;
  type: FaultType;
  target: string;
  backend: FaultBackendName;
  injectedAt: string;
  /** After this instant the stack's watchdog reverts the fault if nobody else did. */
  leaseExpiresAt: string;
  /** Backend-specific data needed to revert (pid, toxic name, container id...). */
  revert: Record<string, string | number | boolean>;
  /** The fault host whose worker injected it and must revert it (absent: 'local'). */
  host?: string;
}

export interface FaultEvidence {
  faultId: string;
  observedAt: string;
  /** e.g. "postgres pid 1234 gone", "toxic latency_db on proxy postgres: 500ms". */
  description: string;
  /** True when this observation shows the fault in effect. */
  ok: boolean;
}

export interface RevertResult {
  faultId: string;
  reverted: boolean;
  alreadyReverted: boolean;
  error?: string;
  /** What the revert did, e.g. "restarted postgres (pid 4321), ready after 1.2 s". */
  detail?: string;
}

export interface InjectFaultInput {
  runId: string;
  spec: FaultSpecInput;
  /** How long the fault may stay in effect before the watchdog reverts it. */
  leaseMs: number;
  /** The scenario's system (what may be faulted); the environment's default when absent. */
  system?: SystemFile;
}

/** One problem with one fault of a scenario; `path` is relative to the scenario root. */
export interface FaultValidationIssue {
  path: (string | number)[];
  message: string;
}
