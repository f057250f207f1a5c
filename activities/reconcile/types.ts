// Reconciliation's contract: which systems of record to read, and the verdict
// classes every message falls into (docs/reconcile-and-reports.md, what reconciliation decides).
// Plain types and schemas only: workflows import this module.
import { z } from 'zod';
import { positiveDurationMs } from '../scenario/duration.ts';
import type { LedgerSpec } from '../ledger/types.ts';

const fieldPath = z.string().min(1).regex(/^[^.\s]+(\.[^.\s]+)*$/, 'a field name or a dotted path (payload.message_id)');

export const reconcileSourceSchema = z.discriminatedUnion('source', [
  z.object({
    source: z.literal('postgres'),
    name: z.string().min(1).default('postgres'),
    /** Connection string; the stack's system-under-test database (`payments`, via its proxy) when omitted. */
    url: z.string().optional(),
    /** Returns message_id, amount_cents, currency for the run; $1 is the run id. */
    query: z.string().min(1),
    /** Rows per FETCH from the server-side cursor (memory stays bounded by this). */
    fetch_size: z.number().int().min(1).max(1_000_000).default(20_000),
  }).strict(),
  z.object({
    source: z.literal('stripe'),
    name: z.string().min(1).default('stripe'),
    /** Emulator or API base URL; the stack's emulator when omitted. */
    url: z.string().url().optional(),
    /** Environment variable holding the API key (keys never live in scenarios); emulators accept any key. */
    api_key_env: z.string().default('STRIPE_API_KEY'),
    /** PaymentIntents are found by search on metadata[metadata_key] = run id. */
    metadata_key: z.string().default('test_run_id'),
    /** The metadata field that carries the ledger's message_id. */
    id_field: z.string().default('message_id'),
    /** PaymentIntent statuses that count as "the payment exists"; `any` counts every status. */
    statuses: z.union([z.literal('any'), z.array(z.string().min(1)).min(1)])
      .default(['succeeded', 'processing', 'requires_capture']),
  }).strict(),
  z.object({
    source: z.literal('kafka'),
    name: z.string().min(1).default('kafka'),
    /** Bootstrap brokers; the stack's Kafka (via its proxy) when omitted. */
    brokers: z.array(z.string().min(1)).min(1).optional(),
    topic: z.string().min(1),
    id_field: fieldPath.default('message_id'),
    amount_field: fieldPath.default('amount_cents'),
    currency_field: fieldPath.default('currency'),
    /** Only records whose run_field equals the run id count; null reads every record of the topic as this run's. */
    run_field: fieldPath.nullable().default('test_run_id'),
    /** Give up (retryably) when the snapshot end is not reached in this time. */
    timeout: positiveDurationMs.default(120_000),
  }).strict(),
]);
export type ReconcileSourceSpec = z.output<typeof reconcileSourceSchema>;
export type ReconcileSourceInput = z.input<typeof reconcileSourceSchema>;

/**
 * Per system of record, every ledger message lands in exactly one of the ledger
 * classes; `ghost` counts the records that match no ledger message.
 *   ok              acknowledged, present exactly once, right amount and currency
 *   lost            acknowledged but absent (data loss: the worst)
 *   duplicated      present more than once (wins over mismatched)
 *   mismatched      present once, but amount or currency differ
 *   unacknowledged  no definitive answer (timeout, 5xx, reset, failed, never sent),
 *                   yet present exactly once and right after redelivery: fine
 *   missing         no definitive answer and still absent after redelivery
 *   ghost           a record of this run that is not in the ledger
 */
export const outcomeClasses = ['ok', 'lost', 'duplicated', 'ghost', 'mismatched', 'unacknowledged', 'missing'] as const;
export type OutcomeClass = (typeof outcomeClasses)[number];
/** A count > 0 in any of these, in any source, breaks exactly-once. */
export const failingClasses = ['lost', 'duplicated', 'ghost', 'mismatched', 'missing'] as const satisfies readonly OutcomeClass[];

/**
 * What a reconciliation proves. `full`: every ledger entry, after redelivery.
 * `acknowledged`: a run cut short (a partial proof): every acknowledged entry exactly
 * once and right, no duplicate and no ghost; entries never sent or never answered were
 * not redelivered, so their absence (missing) is counted but breaks nothing.
 */
export type ReconcileScope = 'full' | 'acknowledged';
export function failingClassesOf(scope: ReconcileScope = 'full'): readonly OutcomeClass[] {
  return scope === 'acknowledged' ? failingClasses.filter((c) => c !== 'missing') : failingClasses;
}

export interface ClassTally {
  count: number;
  /**
   * Money in smallest currency units, summed over currencies (see `money` for the
   * split). ghost: the records' amounts; duplicated: the ledger amount times the
   * copies beyond the first (the money charged more than once); every other
   * class: the ledger amounts.
   */
  amount_cents: number;
  /** The same money per currency (lower-case ISO code). */
  money: Record<string, number>;
  /** Up to a bounded number of example ids, for the report (ledger order; ghosts in read order). */
  ids: string[];
}

export interface SourceReconciliation {
  source: string;
  kind: ReconcileSourceSpec['source'] | string;
  /** Records of this run read from the source (ghosts and copies included). */
  records: number;
  classes: Record<OutcomeClass, ClassTally>;
  /** Things a reader should know that are not classes (unparseable records, an open transaction...). */
  warnings: string[];
  duration_ms: number;
}

export type OutcomeStatus = 'acknowledged' | 'failed' | 'unknown';

/** One message's answer from the load phase (after redelivery, the latest definitive one). */
export interface OutcomeRecord {
  message_id: string;
  outcome: OutcomeStatus;
}

export interface OutcomeSummary {
  acknowledged: number;
  failed: number;
  unknown: number;
  /** Ledger entries with no outcome at all (never sent): reconciled as unacknowledged. */
  none: number;
  /** Outcome rows whose id is not in the ledger (ignored). */
  outside_ledger: number;
}

export interface ReconcileInput {
  runId: string;
  ledger: LedgerSpec;
  sources: ReconcileSourceInput[];
  /** Default full. */
  scope?: ReconcileScope;
}

export interface ReconcileResult {
  runId: string;
  ledgerCount: number;
  outcomes: OutcomeSummary;
  sources: SourceReconciliation[];
  /** Absent in results written before partial proofs existed: full. */
  scope?: ReconcileScope;
  /** No failing class of the scope (full: lost = duplicated = ghost = mismatched = missing = 0) in any source. */
  exactlyOnce: boolean;
  /** One line per failing class per source, e.g. "postgres: 3 lost (usd 12.34), e.g. r1-00000007". */
  failures: string[];
  duration_ms: number;
}
