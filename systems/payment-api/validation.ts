// Request validation with field-level errors: a client (or a load test template)
// learns exactly which field is wrong and why.
import { createHash } from 'node:crypto';
import { z } from 'zod';

export interface PaymentRequest {
  message_id: string;
  amount_cents: number;
  currency: string;
  customer_id: string;
  test_run_id: string;
}

export interface FieldError {
  field: string;
  message: string;
}

export const ID_PATTERN = /^[A-Za-z0-9_.:-]+$/;
export const MAX_ID_LENGTH = 128;
export const MAX_KEY_LENGTH = 255;
export const BODY_LIMIT_BYTES = 16 * 1024;

const id = (what: string) =>
  z.string({ error: (i) => (i.input === undefined ? `${what} is required` : `${what} must be a string`) })
    .min(1, `${what} must not be empty`)
    .max(MAX_ID_LENGTH, `${what} must be at most ${MAX_ID_LENGTH} characters`)
    .regex(ID_PATTERN, `${what} may contain only letters, digits and _ . : -`);

export function paymentRequestSchema(o: { maxAmountCents: number; currencies: readonly string[] }) {
  return z.strictObject({
    message_id: id('message_id'),
    amount_cents: z.number({ error: (i) => (i.input === undefined ? 'amount_cents is required' : 'amount_cents must be a number') })
      .int('amount_cents must be an integer (cents)')
      .positive('amount_cents must be positive')
      .max(o.maxAmountCents, `amount_cents must be at most ${o.maxAmountCents}`),
    currency: z.string({ error: (i) => (i.input === undefined ? 'currency is required' : 'currency must be a string') })
      .refine((c) => o.currencies.includes(c), `currency must be one of ${o.currencies.join(', ')} (lowercase ISO 4217)`),
    customer_id: id('customer_id'),
    test_run_id: id('test_run_id'),
  }, { error: (i) => (i.code === 'unrecognized_keys' ? `unknown field(s): ${i.keys.join(', ')}` : 'the body must be a JSON object') });
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

export function parsePaymentRequest(schema: ReturnType<typeof paymentRequestSchema>, body: unknown): ParseResult<PaymentRequest> {
  const r = schema.safeParse(body);
  if (r.success) return { ok: true, value: r.data };
  return {
    ok: false,
    errors: r.error.issues.map((i) => ({
      field: i.code === 'unrecognized_keys' ? i.keys.join(',') : i.path.length ? i.path.join('.') : 'body',
      message: i.message,
    })),
  };
}

export function parseIdempotencyKey(raw: string | string[] | undefined): ParseResult<string> {
  const field = 'Idempotency-Key';
  if (raw === undefined) return { ok: false, errors: [{ field, message: 'the Idempotency-Key header is required' }] };
  if (Array.isArray(raw)) return { ok: false, errors: [{ field, message: 'send exactly one Idempotency-Key header' }] };
  if (raw.length === 0) return { ok: false, errors: [{ field, message: 'the Idempotency-Key header must not be empty' }] };
  if (raw.length > MAX_KEY_LENGTH) return { ok: false, errors: [{ field, message: `the Idempotency-Key must be at most ${MAX_KEY_LENGTH} characters` }] };
  if (!ID_PATTERN.test(raw)) return { ok: false, errors: [{ field, message: 'the Idempotency-Key may contain only letters, digits and _ . : -' }] };
  return { ok: true, value: raw };
}

/** Identifies a request's parameters: a replay must carry the same ones. Key order does not matter. */
export function requestHash(r: PaymentRequest): string {
  const canonical = JSON.stringify([r.message_id, r.amount_cents, r.currency, r.customer_id, r.test_run_id]);
  return createHash('sha256').update(canonical).digest('hex');
}
