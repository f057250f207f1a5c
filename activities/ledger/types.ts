// The ground-truth ledger: every message the experiment will send, decided before
// anything is sent. Plain types and schemas only (workflows import these).
import { z } from 'zod';

export const ledgerSpecSchema = z
  .object({
    messages: z.number().int().positive().max(50_000_000),
    seed: z.number().int().default(42),
    amount_cents: z.tuple([z.number().int().positive(), z.number().int().positive()]).default([100, 50_000])
      .refine(([lo, hi]) => lo <= hi, { message: 'amount_cents is [min, max] with min <= max' }),
    currency: z.union([z.string().regex(/^[a-z]{3}$/), z.array(z.string().regex(/^[a-z]{3}$/)).min(1)]).default('usd'),
    customers: z.number().int().positive().default(1000),
  })
  .strict();
export type LedgerSpec = z.output<typeof ledgerSpecSchema>;

export interface LedgerEntry {
  /** 0-based position; shards are contiguous seq ranges. */
  seq: number;
  /** Unique per run: `<runId>-<seq padded>`. */
  message_id: string;
  /** The key every (re)send of this entry uses; differs from message_id only by prefix. */
  idempotency_key: string;
  amount_cents: number;
  currency: string;
  customer_id: string;
}

/** Where a generated ledger lives; small enough for workflow history. */
export interface LedgerRef {
  runId: string;
  count: number;
  seed: number;
  /** Sum of amount_cents over the ledger, per currency. */
  totalsByCurrency: Record<string, number>;
  /** The ledger_entries table in the `ordeal` database holds the entries; these are artifacts. */
  jsonPath: string;
  csvPath: string;
}
