// The scenario file: one declarative document composed of each phase's own section
// schema (ledger, load, faults, reconcile) plus the orchestration's sections
// (steady state, recovery, drain, safety). Plain schema + types: workflows import
// the types, the resolver activity validates.
import { z } from 'zod';
import { faultSpecSchema } from '../faults/types.ts';
import { ledgerSpecSchema } from '../ledger/types.ts';
import { notifyTargetSchema } from '../notify/types.ts';
import { loadSettingsSchema } from '../load/types.ts';
import { reconcileSourceSchema } from '../reconcile/types.ts';
import { systemFileSchema } from '../system/schema.ts';
import { durationMs, positiveDurationMs } from './duration.ts';

const httpUrl = z.string().url().refine((u) => /^https?:\/\//.test(u), { message: 'expected an http:// or https:// URL' });

/** A read request that proves the system does real work (touches its database), used to time recovery. */
export const businessProbeSchema = z
  .object({
    url: httpUrl,
    method: z.enum(['GET', 'HEAD', 'POST']).default('GET'),
    body: z.unknown().optional(),
    headers: z.record(z.string(), z.string()).default({}),
    expect_status: z.array(z.number().int().min(100).max(599)).default([200]),
  })
  .strict();

export const recoverySchema = z
  .object({
    /** Health endpoint; 2xx means healthy. */
    probe: httpUrl,
    timeout: positiveDurationMs.default(60_000),
    interval: positiveDurationMs.default(250),
    business: businessProbeSchema.optional(),
  })
  .strict();

export const steadyStateSchema = z
  .object({
    /** Defaults to recovery.probe. */
    probe: httpUrl.optional(),
    timeout: positiveDurationMs.default(30_000),
    /** Consecutive healthy probes needed before the experiment starts. */
    healthy_probes: z.number().int().min(1).max(100).default(3),
  })
  .strict();

export const drainSchema = z
  .object({
    /** Kafka brokers (the stack's when omitted). */
    brokers: z.array(z.string().min(1)).optional(),
    /** Consumer groups whose lag must reach 0 (every topic they consume). */
    groups: z.array(z.string().min(1)).default([]),
    timeout: positiveDurationMs.default(60_000),
  })
  .strict();

export const redeliverySchema = z
  .object({
    /** Bound on re-sending unacknowledged entries; what is still unanswered then counts as missing if absent. */
    timeout: positiveDurationMs.default(120_000),
  })
  .strict();

export const safetySchema = z
  .object({
    /** Any fault is reverted after this long, whatever its own duration says. */
    max_fault_duration: positiveDurationMs.default(300_000),
    /** Circuit breaker: the system down (health probe failing) longer than this aborts the run. */
    abort_if_down_for: positiveDurationMs.default(120_000),
    /** Overall deadline for the whole experiment (default: derived from the timeline). */
    deadline: positiveDurationMs.optional(),
    probe_interval: positiveDurationMs.default(1000),
    /** Load, probes and sources must be loopback unless this is set. */
    allow_non_loopback: z.boolean().default(false),
  })
  .strict()
  .refine((s) => s.abort_if_down_for >= s.probe_interval, {
    message: 'abort_if_down_for must be at least probe_interval', path: ['abort_if_down_for'],
  });

export const scenarioSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'lowercase letters, digits, _ and - only'),
    description: z.string().optional(),
    ledger: ledgerSpecSchema,
    load: loadSettingsSchema,
    faults: z.array(faultSpecSchema).default([]),
    steady_state: steadyStateSchema.default({ timeout: 30_000, healthy_probes: 3 }),
    recovery: recoverySchema,
    redelivery: redeliverySchema.default({ timeout: 120_000 }),
    drain: drainSchema.default({ groups: [], timeout: 60_000 }),
    safety: safetySchema.default({
      max_fault_duration: 300_000, abort_if_down_for: 120_000, probe_interval: 1000, allow_non_loopback: false,
    }),
    /** At least one system of record: without one, exactly-once is not proven. */
    reconcile: z.array(reconcileSourceSchema).min(1, 'at least one system of record to reconcile against'),
    /** The system under test, resolved from `system: <file>` (or the environment's default) by the resolver. */
    system: systemFileSchema.optional(),
    /** Webhooks told about the verdict after the reports are written (docs/observability.md). */
    notify: z.array(notifyTargetSchema).default([]),
    /** Free-form labels copied into the report. */
    labels: z.record(z.string(), z.string()).default({}),
  })
  .strict();

export type Scenario = z.output<typeof scenarioSchema>;

/** One problem with a scenario, addressed by its field path (e.g. `faults.0.target`). */
export interface ScenarioProblem {
  path: string;
  message: string;
}

export { durationMs };
