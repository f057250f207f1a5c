// Reconciliation's contract: which systems of record to read, and the verdict
// classes every message falls into (see DESIGN.md, correctness semantics).
import { z } from 'zod';

export const reconcileSourceSchema = z.discriminatedUnion('source', [
  z.object({
    source: z.literal('postgres'),
    name: z.string().default('postgres'),
    url: z.string().optional(),
    /** Returns message_id, amount_cents, currency for the run; $1 is the run id. */
    query: z.string().min(1),
  }).strict(),
  z.object({
    source: z.literal('stripe'),
    name: z.string().default('stripe'),
    /** Emulator or API base URL; the stack's emulator when omitted. */
    url: z.string().optional(),
    metadata_key: z.string().default('test_run_id'),
    id_field: z.string().default('message_id'),
  }).strict(),
  z.object({
    source: z.literal('kafka'),
    name: z.string().optional(),
    brokers: z.array(z.string()).optional(),
    topic: z.string().min(1),
    id_field: z.string().default('message_id'),
    run_field: z.string().default('test_run_id'),
  }).strict(),
]);
export type ReconcileSourceSpec = z.output<typeof reconcileSourceSchema>;

export const outcomeClasses = ['ok', 'lost', 'duplicated', 'ghost', 'mismatched', 'unacknowledged', 'missing'] as const;
export type OutcomeClass = (typeof outcomeClasses)[number];

export interface ClassTally {
  count: number;
  amount_cents: number;
  /** Up to a bounded number of example ids, for the report. */
  ids: string[];
}

export interface SourceReconciliation {
  source: string;
  records: number;
  classes: Record<OutcomeClass, ClassTally>;
}

export interface ReconcileResult {
  runId: string;
  ledgerCount: number;
  sources: SourceReconciliation[];
  /** lost = duplicated = ghost = mismatched = missing = 0 in every source. */
  exactlyOnce: boolean;
}
