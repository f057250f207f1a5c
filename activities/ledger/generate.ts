// Deterministic ledger generation: the same (runId, spec) always yields the same
// entries, so any worker can regenerate or check any slice without shared state.
import type { LedgerEntry, LedgerSpec } from './types.ts';

/** mulberry32: small, fast, good enough for test data; seeded per entry so slices are independent. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function ledgerEntry(runId: string, spec: LedgerSpec, seq: number): LedgerEntry {
  const r = rng(Math.imul(spec.seed ^ 0x9e3779b9, 0x85ebca6b) ^ seq);
  const [lo, hi] = spec.amount_cents;
  const currencies = Array.isArray(spec.currency) ? spec.currency : [spec.currency];
  const id = `${runId}-${String(seq).padStart(8, '0')}`;
  return {
    seq,
    message_id: id,
    idempotency_key: `idem-${id}`,
    amount_cents: lo + Math.floor(r() * (hi - lo + 1)),
    currency: currencies[Math.floor(r() * currencies.length)]!,
    customer_id: `cus_${String(Math.floor(r() * spec.customers)).padStart(6, '0')}`,
  };
}

/** Entries [from, to) of the ledger. */
export function* ledgerSlice(runId: string, spec: LedgerSpec, from: number, to: number): Generator<LedgerEntry> {
  for (let seq = from; seq < Math.min(to, spec.messages); seq++) yield ledgerEntry(runId, spec, seq);
}
