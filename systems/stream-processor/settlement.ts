// The business step of the pipeline: a PaymentEvent becomes a SettlementEvent.
// Pure and deterministic apart from settled_at, so tests can check every field.
import { z } from 'zod';
import type { PaymentEvent, SettlementEvent } from '../contracts.ts';

/** Card-processing style pricing: 2.9 % + 30 cents, never more than the amount itself. */
export const FEE_BASIS_POINTS = 290;
export const FEE_FIXED_CENTS = 30;

export function feeCents(amountCents: number): number {
  return Math.min(amountCents, Math.round((amountCents * FEE_BASIS_POINTS) / 10000) + FEE_FIXED_CENTS);
}

const paymentEventSchema = z.object({
  message_id: z.string().min(1).max(200),
  payment_id: z.string().min(1).max(200),
  test_run_id: z.string().max(200),
  amount_cents: z.number().int().positive(),
  currency: z.string().min(3).max(3),
  customer_id: z.string().max(200),
  stripe_payment_intent_id: z.string().nullable(),
  created_at: z.string(),
});

export type ParseResult = { ok: true; event: PaymentEvent } | { ok: false; error: string };

/** Parses a `payments` record value; a bad record is reported, never thrown (one poison message must not stop the pipeline). */
export function parsePaymentEvent(value: Buffer | null): ParseResult {
  if (value === null) return { ok: false, error: 'record has no value (tombstone)' };
  let json: unknown;
  try {
    json = JSON.parse(value.toString('utf8'));
  } catch (err) {
    return { ok: false, error: `value is not JSON: ${err instanceof Error ? err.message : String(err)}` };
  }
  const parsed = paymentEventSchema.safeParse(json);
  if (!parsed.success) {
    return { ok: false, error: parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ') };
  }
  return { ok: true, event: parsed.data };
}

export function settle(event: PaymentEvent, now: Date = new Date()): SettlementEvent {
  const fee = feeCents(event.amount_cents);
  return {
    message_id: event.message_id,
    payment_id: event.payment_id,
    test_run_id: event.test_run_id,
    amount_cents: event.amount_cents,
    currency: event.currency,
    fee_cents: fee,
    net_cents: event.amount_cents - fee,
    settled_at: now.toISOString(),
  };
}
