// Stripe's error shape ({ error: { type, code, message, param, ... } }) and the HTTP
// status that goes with it, so that the official SDK raises the same error classes
// (StripeInvalidRequestError, StripeCardError, StripeIdempotencyError, ...) as
// against the real API.
export type StripeErrorType = 'api_error' | 'card_error' | 'idempotency_error' | 'invalid_request_error';

export interface StripeErrorBody {
  type: StripeErrorType;
  message: string;
  code?: string;
  param?: string;
  decline_code?: string;
  doc_url?: string;
  payment_intent?: unknown;
  charge?: string;
  request_log_url?: string;
}

export class StripeApiError extends Error {
  override name = 'StripeApiError';
  readonly status: number;
  readonly body: StripeErrorBody;
  /** Extra response headers (Stripe-Should-Retry, Retry-After). */
  readonly headers: Record<string, string>;
  constructor(status: number, body: StripeErrorBody, headers: Record<string, string> = {}) {
    super(body.message);
    this.status = status;
    this.body = body;
    this.headers = headers;
  }
}

const docUrl = (code: string) => `https://stripe.com/docs/error-codes/${code.replace(/_/g, '-')}`;

export function invalidRequest(message: string, opts: { param?: string; code?: string; status?: number } = {}): StripeApiError {
  const body: StripeErrorBody = { type: 'invalid_request_error', message };
  if (opts.code) {
    body.code = opts.code;
    body.doc_url = docUrl(opts.code);
  }
  if (opts.param) body.param = opts.param;
  return new StripeApiError(opts.status ?? 400, body);
}

export const missingParam = (param: string) =>
  invalidRequest(`Missing required param: ${param}.`, { param, code: 'parameter_missing' });

export const unknownParam = (param: string) =>
  invalidRequest(`Received unknown parameter: ${param}`, { param, code: 'parameter_unknown' });

export const invalidParam = (param: string, message: string, code = 'parameter_invalid_string') =>
  invalidRequest(message, { param, code });

export const resourceMissing = (kind: string, id: string, param: string) =>
  invalidRequest(`No such ${kind}: '${id}'`, { param, code: 'resource_missing', status: 404 });

export function unexpectedState(message: string, paymentIntent?: unknown): StripeApiError {
  const err = invalidRequest(message, { code: 'payment_intent_unexpected_state' });
  if (paymentIntent !== undefined) err.body.payment_intent = paymentIntent;
  return err;
}

export function rateLimited(): StripeApiError {
  return new StripeApiError(429, {
    type: 'invalid_request_error',
    code: 'rate_limit',
    doc_url: docUrl('rate_limit'),
    message: 'Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.',
  });
}

export function internalError(message = 'An unknown error occurred'): StripeApiError {
  return new StripeApiError(500, { type: 'api_error', message });
}

export function idempotencyMismatch(key: string, detail: string): StripeApiError {
  return new StripeApiError(400, {
    type: 'idempotency_error',
    message: `Keys for idempotent requests can only be used with the same parameters they were first used with. ` +
      `Try using a key other than '${key}' if you meant to execute a different request.${detail ? ` (${detail})` : ''}`,
  });
}

export function idempotencyInUse(key: string): StripeApiError {
  // Stripe answers 409 with Stripe-Should-Retry: the first request has not finished,
  // and retrying later with the same key is the right move.
  return new StripeApiError(409, {
    type: 'idempotency_error',
    code: 'idempotency_key_in_use',
    doc_url: docUrl('idempotency_key_in_use'),
    message: `There is currently another in-progress request using this Idempotent Key (that probably means you ` +
      `submitted twice, and the other request is still going through): ${key}. Please try again later.`,
  }, { 'Stripe-Should-Retry': 'true' });
}

export function authError(message: string): StripeApiError {
  return new StripeApiError(401, { type: 'invalid_request_error', message });
}
