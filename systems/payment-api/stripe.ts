// Charges through the official Stripe SDK: PaymentIntent create, then confirm. Every
// attempt of one payment carries the request's idempotency key (create: the key;
// confirm: the key + ":confirm", since Stripe binds a key to one endpoint and its
// parameters), so retries after 429/5xx/timeouts can never charge twice.
import { createHash } from 'node:crypto';
import { Agent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import Stripe from 'stripe';
import type { PaymentApiConfig } from './config.ts';
import type { PaymentMetrics } from './metrics.ts';
import type { PaymentRequest } from './validation.ts';

/** Stripe keys are at most 255 characters: a derived key that would be longer uses the request key's hash. */
export function derivedKey(key: string, suffix: string): string {
  const k = `${key}:${suffix}`;
  return k.length <= 255 ? k : `${createHash('sha256').update(key).digest('hex')}:${suffix}`;
}

export interface ChargeResult {
  paymentIntentId: string;
  status: string;
}

/** Stripe kept failing (retryable errors) past the retry budget: the caller answers 503. */
export class ProviderUnavailableError extends Error {
  override name = 'ProviderUnavailableError';
  readonly lastErrorType: string;
  constructor(message: string, lastErrorType: string) {
    super(message);
    this.lastErrorType = lastErrorType;
  }
}

/** Stripe refused the charge for good (declined, invalid request): the caller answers 402/502. */
export class ChargeRejectedError extends Error {
  override name = 'ChargeRejectedError';
  readonly errorType: string;
  readonly declined: boolean;
  constructor(message: string, errorType: string, declined: boolean) {
    super(message);
    this.errorType = errorType;
    this.declined = declined;
  }
}

export function createStripeClient(config: PaymentApiConfig): Stripe {
  const target = config.stripeEmulatorUrl ? new URL(config.stripeEmulatorUrl) : null;
  const protocol = target?.protocol === 'https:' ? 'https' : 'http';
  return new Stripe(config.stripeApiKey, {
    // Our own retry loop decides (same key, bounded by the request's budget).
    maxNetworkRetries: 0,
    timeout: config.stripeTimeoutMs,
    telemetry: false,
    httpAgent: target && protocol === 'http'
      ? new Agent({ keepAlive: true, maxSockets: 512 })
      : new HttpsAgent({ keepAlive: true, maxSockets: 512 }),
    ...(target ? { host: target.hostname, port: Number(target.port || (protocol === 'https' ? 443 : 80)), protocol } : {}),
  });
}

/** Classifies a Stripe SDK error for the metric label and the retry decision. */
export function classify(err: unknown): { type: string; retry: boolean } {
  const e = err as { type?: string; statusCode?: number; code?: string } | null;
  switch (e?.type) {
    case 'StripeRateLimitError': return { type: 'rate_limit', retry: true };
    case 'StripeConnectionError': return { type: /timed? ?out/i.test(String((err as Error).message)) ? 'timeout' : 'connection', retry: true };
    case 'StripeAPIError': return { type: 'api_error', retry: true };
    case 'StripeCardError': return { type: 'card_error', retry: false };
    case 'StripeIdempotencyError':
      // 409: the same key is being processed right now; 400: same key, other parameters.
      return e.statusCode === 409 ? { type: 'idempotency_in_flight', retry: true } : { type: 'idempotency_error', retry: false };
    case 'StripeAuthenticationError': return { type: 'authentication', retry: false };
    case 'StripeInvalidRequestError':
      return e.statusCode === 409 ? { type: 'conflict', retry: true } : { type: 'invalid_request', retry: false };
    default:
      if (typeof e?.statusCode === 'number' && e.statusCode >= 500) return { type: 'api_error', retry: true };
      if (e?.statusCode === 429) return { type: 'rate_limit', retry: true };
      return { type: 'other', retry: false };
  }
}

export class Charger {
  private readonly stripe: Stripe;
  private readonly config: PaymentApiConfig;
  private readonly metrics: PaymentMetrics;
  private readonly log: Logger;

  constructor(config: PaymentApiConfig, metrics: PaymentMetrics, log: Logger) {
    this.config = config;
    this.stripe = createStripeClient(config);
    this.metrics = metrics;
    this.log = log;
  }

  async charge(req: PaymentRequest, key: string): Promise<ChargeResult> {
    // The defect: no key of ours, so every retry (and every redelivery) is a new charge.
    const withKey = !this.config.defects.has('stripe_without_idempotency_key');
    const pi = await this.retrying('create', () => this.stripe.paymentIntents.create({
      amount: req.amount_cents,
      currency: req.currency,
      // No redirects: a card payment confirms synchronously (real Stripe needs no return_url).
      automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
      payment_method: 'pm_card_visa',
      metadata: { message_id: req.message_id, test_run_id: req.test_run_id },
      description: `payment ${req.message_id}`,
      ...(this.config.stripeConfirm === 'on_create' ? { confirm: true } : {}),
    }, withKey ? { idempotencyKey: key } : {}));
    if (pi.status === 'succeeded' || pi.status === 'processing') return { paymentIntentId: pi.id, status: pi.status };
    const confirmed = await this.retrying('confirm', () =>
      this.stripe.paymentIntents.confirm(pi.id, {}, withKey ? { idempotencyKey: derivedKey(key, 'confirm') } : {}));
    return { paymentIntentId: confirmed.id, status: confirmed.status };
  }

  private async retrying<T>(what: string, call: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.config.stripeRetryBudgetMs;
    for (let attempt = 0; ; attempt++) {
      try {
        return await call();
      } catch (err) {
        const c = classify(err);
        this.metrics.stripeErrors.inc({ error_type: c.type });
        const message = err instanceof Error ? err.message : String(err);
        if (!c.retry) {
          throw new ChargeRejectedError(`Stripe ${what} failed (${c.type}): ${message}`, c.type, c.type === 'card_error');
        }
        // Full jitter, capped: a 429 burst must not be answered by a synchronized retry storm.
        const backoff = Math.random() * Math.min(1000, 25 * 2 ** attempt);
        if (Date.now() + backoff >= deadline) {
          throw new ProviderUnavailableError(`Stripe ${what} still failing after ${attempt + 1} attempts (${c.type}: ${message})`, c.type);
        }
        this.log.debug({ what, attempt, errorType: c.type }, 'stripe call failed; retrying with the same key');
        await sleep(backoff);
      }
    }
  }

  async reachable(): Promise<boolean> {
    if (!this.config.stripeEmulatorUrl) return true; // real Stripe: not probed on every /ready
    try {
      const res = await fetch(new URL('/', this.config.stripeEmulatorUrl), { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      return true;
    } catch {
      return false;
    }
  }
}
