// The Stripe endpoints: each handler is synchronous (reads and changes the store in
// one go, so concurrent requests never interleave inside one) and returns the
// status and object to answer, or throws a StripeApiError.
import type { ListQuery } from './collection.ts';
import { invalidRequest, resourceMissing, StripeApiError, unexpectedState } from './errors.ts';
import type { FormObject } from './form.ts';
import { randomId } from './ids.ts';
import type { ListResult, PaymentIntent, Refund, SearchResult } from './objects.ts';
import { Params } from './params.ts';
import { indexableClause, matches, parseSearchQuery } from './search.ts';
import { lowerBound, type Store } from './store.ts';

export interface HandlerResult {
  status: number;
  body: unknown;
}

export interface Endpoint {
  method: 'GET' | 'POST' | 'DELETE';
  /** fastify route path */
  path: string;
  handler: (store: Store, params: FormObject, id: string | undefined) => HandlerResult;
}

const CURRENCIES = new Set(['usd', 'eur', 'gbp', 'cad', 'aud', 'jpy', 'chf', 'sek', 'nok', 'dkk', 'pln', 'czk', 'huf',
  'nzd', 'sgd', 'hkd', 'mxn', 'brl', 'inr', 'ron', 'bgn', 'ils', 'try', 'zar', 'thb', 'myr', 'php', 'idr', 'krw', 'aed']);

const MAX_AMOUNT = 99_999_999;

const ok = (body: unknown): HandlerResult => ({ status: 200, body });

function currencyParam(p: Params): string {
  const c = p.str('currency', { required: true })!.toLowerCase();
  if (!CURRENCIES.has(c)) {
    throw invalidRequest(`Invalid currency: ${c}. Stripe currently supports these currencies: ${[...CURRENCIES].join(', ')}`,
      { param: 'currency', code: 'parameter_invalid_string' });
  }
  return c;
}

function amountParam(p: Params, currency: string): number {
  const amount = p.int('amount', { required: true })!;
  if (amount < 1) throw invalidRequest('This value must be greater than or equal to 1.', { param: 'amount', code: 'parameter_invalid_integer' });
  // Stripe's minimum charge is about 0.50 USD (50 minor units; 50 JPY for zero-decimal yen).
  const min = 50;
  if (amount < min) {
    throw invalidRequest(`Amount must be at least ${min} ${currency}`, { param: 'amount', code: 'amount_too_small' });
  }
  if (amount > MAX_AMOUNT) {
    throw invalidRequest(`Amount must be no more than ${MAX_AMOUNT}`, { param: 'amount', code: 'amount_too_large' });
  }
  return amount;
}

const limitParam = (p: Params) => p.int('limit', { min: 1, max: 100 }) ?? 10;

// ---------------------------------------------------------------- PaymentIntents

const PI_CREATE_PARAMS = ['amount', 'currency', 'metadata', 'confirm', 'payment_method', 'payment_method_types',
  'automatic_payment_methods', 'capture_method', 'customer', 'description', 'receipt_email', 'statement_descriptor',
  'statement_descriptor_suffix', 'setup_future_usage', 'return_url', 'off_session', 'expand', 'payment_method_options',
  'confirmation_method', 'error_on_requires_action', 'use_stripe_sdk', 'transfer_group', 'application_fee_amount',
  'payment_method_data', 'mandate_data', 'shipping', 'radar_options'] as const;

function createPaymentIntent(store: Store, raw: FormObject): HandlerResult {
  const p = new Params(raw, PI_CREATE_PARAMS);
  const currency = currencyParam(p);
  const amount = amountParam(p, currency);
  const types = p.list('payment_method_types');
  const apm = p.hash('automatic_payment_methods');
  if (types && apm && apm.enabled === 'true') {
    throw invalidRequest('You may only specify one of these parameters: automatic_payment_methods, payment_method_types.', { param: 'payment_method_types' });
  }
  const id = randomId('pi_');
  const pi: PaymentIntent = {
    id,
    object: 'payment_intent',
    amount,
    amount_capturable: 0,
    amount_received: 0,
    application: null,
    application_fee_amount: p.int('application_fee_amount', { min: 0 }) ?? null,
    automatic_payment_methods: types ? null : { enabled: true, allow_redirects: 'always' },
    canceled_at: null,
    cancellation_reason: null,
    capture_method: p.oneOf('capture_method', ['automatic', 'automatic_async', 'manual'] as const) ?? 'automatic_async',
    client_secret: `${id}_secret_${randomId('', 25)}`,
    confirmation_method: p.oneOf('confirmation_method', ['automatic', 'manual'] as const) ?? 'automatic',
    created: store.createdNow('pi'),
    currency,
    customer: p.str('customer', { max: 255 }) ?? null,
    description: p.str('description', { max: 1000 }) ?? null,
    last_payment_error: null,
    latest_charge: null,
    livemode: false,
    metadata: p.metadata() ?? {},
    next_action: null,
    on_behalf_of: null,
    payment_method: null,
    payment_method_configuration_details: null,
    payment_method_options: {},
    payment_method_types: types ?? ['card'],
    processing: null,
    receipt_email: p.str('receipt_email', { max: 800 }) ?? null,
    review: null,
    setup_future_usage: p.oneOf('setup_future_usage', ['off_session', 'on_session'] as const) ?? null,
    shipping: null,
    source: null,
    statement_descriptor: p.str('statement_descriptor', { max: 22 }) ?? null,
    statement_descriptor_suffix: p.str('statement_descriptor_suffix', { max: 22 }) ?? null,
    status: 'requires_payment_method',
    transfer_data: null,
    transfer_group: p.str('transfer_group') ?? null,
  };
  p.bool('off_session');
  p.bool('error_on_requires_action');
  p.bool('use_stripe_sdk');
  const pm = p.str('payment_method', { max: 255 });
  if (pm) {
    pi.payment_method = paymentMethodId(pm);
    pi.status = 'requires_confirmation';
  }
  if (p.bool('confirm')) {
    if (!pm) throw missingPaymentMethod(pi);
    return charge(store, pi, pm);
  }
  store.putPaymentIntent(pi);
  return ok(pi);
}

function missingPaymentMethod(pi: PaymentIntent): StripeApiError {
  return unexpectedState(
    "You cannot confirm this PaymentIntent because it's missing a payment method. To confirm the PaymentIntent, " +
      'provide a payment_method (for example pm_card_visa).', pi);
}

/** Test-mode PaymentMethod shortcuts (pm_card_visa ...) become a fresh pm_ id, like Stripe does. */
function paymentMethodId(pm: string): string {
  if (!pm.startsWith('pm_')) throw resourceMissing('PaymentMethod', pm, 'payment_method');
  return pm.startsWith('pm_card_') ? randomId('pm_') : pm;
}

const DECLINES: Record<string, { code: string; decline_code: string; message: string }> = {
  pm_card_chargeDeclined: { code: 'card_declined', decline_code: 'generic_decline', message: 'Your card was declined.' },
  pm_card_visa_chargeDeclined: { code: 'card_declined', decline_code: 'generic_decline', message: 'Your card was declined.' },
  pm_card_chargeDeclinedInsufficientFunds: { code: 'card_declined', decline_code: 'insufficient_funds', message: 'Your card has insufficient funds.' },
  pm_card_visa_chargeDeclinedInsufficientFunds: { code: 'card_declined', decline_code: 'insufficient_funds', message: 'Your card has insufficient funds.' },
  pm_card_chargeDeclinedExpiredCard: { code: 'expired_card', decline_code: 'expired_card', message: 'Your card has expired.' },
  pm_card_visa_chargeDeclinedExpiredCard: { code: 'expired_card', decline_code: 'expired_card', message: 'Your card has expired.' },
};

/** Runs the charge for a confirmation; `pmAlias` is what the client sent (pm_card_visa...). */
function charge(store: Store, pi: PaymentIntent, pmAlias: string | undefined): HandlerResult {
  const chargeId = randomId('ch_');
  const decline = pmAlias ? DECLINES[pmAlias] : undefined;
  if (decline) {
    const pmId = pi.payment_method ?? randomId('pm_');
    pi.status = 'requires_payment_method';
    pi.payment_method = null;
    pi.latest_charge = chargeId;
    pi.last_payment_error = {
      type: 'card_error', code: decline.code, decline_code: decline.decline_code, message: decline.message, charge: chargeId,
      payment_method: { id: pmId, object: 'payment_method', type: 'card' },
    };
    store.putPaymentIntent(pi);
    // The 402 body embeds the PaymentIntent, as Stripe's does; it is kept for the idempotency key.
    throw new StripeApiError(402, {
      type: 'card_error', code: decline.code, decline_code: decline.decline_code, message: decline.message,
      charge: chargeId, doc_url: `https://stripe.com/docs/error-codes/${decline.code.replace(/_/g, '-')}`,
      payment_intent: pi,
    });
  }
  pi.last_payment_error = null;
  pi.latest_charge = chargeId;
  if (pi.capture_method === 'manual') {
    pi.status = 'requires_capture';
    pi.amount_capturable = pi.amount;
  } else {
    pi.status = 'succeeded';
    pi.amount_received = pi.amount;
  }
  store.putPaymentIntent(pi);
  return ok(pi);
}

function getPaymentIntent(store: Store, id: string): PaymentIntent {
  return store.paymentIntents.find(id, 'intent');
}

/** A copy to change: the stored object stays as it was until putPaymentIntent. */
const copy = <T>(o: T): T => structuredClone(o);

const CONFIRMABLE = new Set(['requires_payment_method', 'requires_confirmation', 'requires_action']);

function confirmPaymentIntent(store: Store, raw: FormObject, id: string): HandlerResult {
  const p = new Params(raw, ['payment_method', 'return_url', 'off_session', 'expand', 'payment_method_options',
    'payment_method_types', 'receipt_email', 'setup_future_usage', 'shipping', 'error_on_requires_action', 'use_stripe_sdk',
    'mandate_data', 'payment_method_data', 'capture_method', 'radar_options']);
  const pi = copy(getPaymentIntent(store, id));
  if (!CONFIRMABLE.has(pi.status)) {
    throw unexpectedState(`You cannot confirm this PaymentIntent because it has a status of ${pi.status}. ` +
      `Only a PaymentIntent with one of the following statuses may be confirmed: requires_confirmation, requires_action, requires_payment_method.`, pi);
  }
  const pm = p.str('payment_method', { max: 255 });
  if (pm) pi.payment_method = paymentMethodId(pm);
  if (!pi.payment_method) throw missingPaymentMethod(pi);
  const capture = p.oneOf('capture_method', ['automatic', 'automatic_async', 'manual'] as const);
  if (capture) pi.capture_method = capture;
  const email = p.str('receipt_email', { max: 800 });
  if (email) pi.receipt_email = email;
  p.bool('off_session');
  return charge(store, pi, pm ?? undefined);
}

function capturePaymentIntent(store: Store, raw: FormObject, id: string): HandlerResult {
  const p = new Params(raw, ['amount_to_capture', 'expand', 'metadata', 'statement_descriptor', 'statement_descriptor_suffix', 'final_capture']);
  const pi = copy(getPaymentIntent(store, id));
  if (pi.status !== 'requires_capture') {
    throw unexpectedState(`This PaymentIntent could not be captured because it has a status of ${pi.status}. ` +
      'Only a PaymentIntent with one of the following statuses may be captured: requires_capture.', pi);
  }
  const amount = p.int('amount_to_capture', { min: 1, max: pi.amount_capturable }) ?? pi.amount_capturable;
  const md = p.metadata();
  if (md) pi.metadata = mergeMetadata(pi.metadata, md);
  pi.amount_received = amount;
  pi.amount_capturable = 0;
  pi.status = 'succeeded';
  store.putPaymentIntent(pi);
  return ok(pi);
}

const CANCELABLE = new Set(['requires_payment_method', 'requires_capture', 'requires_confirmation', 'requires_action', 'processing']);

function cancelPaymentIntent(store: Store, raw: FormObject, id: string): HandlerResult {
  const p = new Params(raw, ['cancellation_reason', 'expand']);
  const pi = copy(getPaymentIntent(store, id));
  if (!CANCELABLE.has(pi.status)) {
    throw unexpectedState(`You cannot cancel this PaymentIntent because it has a status of ${pi.status}. ` +
      'Only a PaymentIntent with one of the following statuses may be canceled: requires_payment_method, requires_capture, requires_confirmation, requires_action, processing.', pi);
  }
  pi.cancellation_reason = p.oneOf('cancellation_reason', ['duplicate', 'fraudulent', 'requested_by_customer', 'abandoned'] as const) ?? null;
  pi.canceled_at = Math.floor(Date.now() / 1000);
  pi.status = 'canceled';
  pi.amount_capturable = 0;
  store.putPaymentIntent(pi);
  return ok(pi);
}

/** Stripe's metadata update: keys merge, an empty value unsets its key. */
function mergeMetadata(current: Record<string, string>, update: Record<string, string>): Record<string, string> {
  const out = { ...current };
  for (const [k, v] of Object.entries(update)) {
    if (v === '') delete out[k];
    else out[k] = v;
  }
  return out;
}

function updatePaymentIntent(store: Store, raw: FormObject, id: string): HandlerResult {
  const p = new Params(raw, ['metadata', 'description', 'customer', 'receipt_email', 'amount', 'currency', 'expand',
    'statement_descriptor', 'statement_descriptor_suffix', 'payment_method', 'setup_future_usage', 'transfer_group']);
  const pi = copy(getPaymentIntent(store, id));
  if (p.has('metadata')) {
    const md = p.metadata()!;
    pi.metadata = p.raw.metadata === '' ? {} : mergeMetadata(pi.metadata, md);
  }
  const changesMoney = p.has('amount') || p.has('currency') || p.has('payment_method');
  if (changesMoney && !CONFIRMABLE.has(pi.status)) {
    throw unexpectedState(`You cannot update this PaymentIntent's amount, currency or payment method because it has a status of ${pi.status}.`, pi);
  }
  if (p.has('currency')) pi.currency = currencyParam(p);
  if (p.has('amount')) pi.amount = amountParam(p, pi.currency);
  if (p.has('payment_method')) {
    const pm = p.str('payment_method');
    pi.payment_method = pm ? paymentMethodId(pm) : null;
    pi.status = pm ? 'requires_confirmation' : 'requires_payment_method';
  }
  if (p.has('description')) pi.description = p.str('description', { max: 1000 }) ?? null;
  if (p.has('customer')) pi.customer = p.str('customer', { max: 255 }) ?? null;
  if (p.has('receipt_email')) pi.receipt_email = p.str('receipt_email', { max: 800 }) ?? null;
  if (p.has('statement_descriptor')) pi.statement_descriptor = p.str('statement_descriptor', { max: 22 }) ?? null;
  if (p.has('statement_descriptor_suffix')) pi.statement_descriptor_suffix = p.str('statement_descriptor_suffix', { max: 22 }) ?? null;
  if (p.has('transfer_group')) pi.transfer_group = p.str('transfer_group') ?? null;
  store.putPaymentIntent(pi);
  return ok(pi);
}

/** The parameters every list endpoint takes (limit, created, cursors); `filter` applies the endpoint's own. */
function listQuery<T>(p: Params, filter: ((o: T) => boolean) | undefined): ListQuery<T> {
  return { limit: limitParam(p), created: p.range('created'), startingAfter: p.str('starting_after'), endingBefore: p.str('ending_before'), filter };
}

function listPaymentIntents(store: Store, raw: FormObject): HandlerResult {
  const p = new Params(raw, ['limit', 'starting_after', 'ending_before', 'created', 'customer', 'expand']);
  const customer = p.str('customer');
  const { data, hasMore } = store.paymentIntents.list(listQuery(p, customer ? (pi) => pi.customer === customer : undefined));
  const body: ListResult<PaymentIntent> = { object: 'list', data, has_more: hasMore, url: '/v1/payment_intents' };
  return ok(body);
}

const encodePage = (seq: number) => `page_${Buffer.from(`seq:${seq}`).toString('base64url')}`;
function decodePage(page: string): number {
  const m = /^page_([A-Za-z0-9_-]+)$/.exec(page);
  const inner = m ? Buffer.from(m[1]!, 'base64url').toString() : '';
  const s = /^seq:(\d+)$/.exec(inner);
  if (!s) throw invalidRequest(`Invalid page: ${page}`, { param: 'page', code: 'parameter_invalid' });
  return Number(s[1]);
}

function searchPaymentIntents(store: Store, raw: FormObject): HandlerResult {
  const p = new Params(raw, ['query', 'limit', 'page', 'expand']);
  const q = parseSearchQuery(p.str('query', { required: true })!);
  const limit = limitParam(p);
  const page = p.str('page');
  const before = page ? decodePage(page) : Number.POSITIVE_INFINITY;
  const wantTotal = (p.list('expand') ?? []).includes('total_count');
  const data: PaymentIntent[] = [];
  let hasMore = false;
  let total = 0;
  const consider = (seq: number): boolean => {
    const pi = store.paymentIntents.at(seq);
    if (!pi || !matches(pi, q)) return true;
    if (seq >= before) { total++; return true; }
    if (data.length === limit) {
      hasMore = true;
      total++;
      return wantTotal; // keep counting only when the total was asked for
    }
    data.push(pi);
    total++;
    return true;
  };
  const ix = indexableClause(q);
  if (ix) {
    const seqs = store.metadataCandidates(ix.metadataKey!, ix.value as string);
    const start = wantTotal ? seqs.length : lowerBound(seqs, Math.min(before, Number.MAX_SAFE_INTEGER));
    for (let i = start - 1; i >= 0; i--) if (!consider(seqs[i]!)) break;
  } else {
    const top = wantTotal ? store.paymentIntents.size : Math.min(before, store.paymentIntents.size);
    for (let seq = top - 1; seq >= 0; seq--) if (!consider(seq)) break;
  }
  const last = data.at(-1);
  const body: SearchResult<PaymentIntent> = {
    object: 'search_result',
    data,
    has_more: hasMore,
    next_page: hasMore && last ? encodePage(store.paymentIntents.seqOf(last.id)!) : null,
    url: '/v1/payment_intents/search',
  };
  if (wantTotal) body.total_count = total;
  return ok(body);
}

// ---------------------------------------------------------------- Refunds

function createRefund(store: Store, raw: FormObject): HandlerResult {
  const p = new Params(raw, ['payment_intent', 'charge', 'amount', 'reason', 'metadata', 'expand', 'instructions_email',
    'refund_application_fee', 'reverse_transfer', 'origin']);
  const piId = p.str('payment_intent');
  const chargeId = p.str('charge');
  if (!piId && !chargeId) {
    throw invalidRequest('One of the following params should be provided for this request: payment_intent or charge.', { param: 'payment_intent', code: 'parameter_missing' });
  }
  let pi: PaymentIntent | undefined;
  if (piId) {
    pi = store.paymentIntents.find(piId, 'payment_intent');
  } else {
    const owner = store.charges.get(chargeId!);
    pi = owner ? store.paymentIntents.get(owner) : undefined;
    if (!pi) throw resourceMissing('charge', chargeId!, 'charge');
    if (pi.latest_charge !== chargeId || (pi.status !== 'succeeded')) {
      throw invalidRequest(`Charge ${chargeId} has not succeeded and cannot be refunded.`, { param: 'charge', code: 'charge_not_refundable' });
    }
  }
  if (pi.status !== 'succeeded' || !pi.latest_charge) {
    throw invalidRequest(`This PaymentIntent (${pi.id}) does not have a successful charge to refund.`, { param: 'payment_intent', code: 'charge_not_refundable' });
  }
  const refunded = store.refunded.get(pi.id) ?? 0;
  const remaining = pi.amount_received - refunded;
  if (remaining <= 0) {
    throw invalidRequest(`Charge ${pi.latest_charge} has already been refunded.`, { code: 'charge_already_refunded' });
  }
  const amount = p.int('amount', { min: 1 }) ?? remaining;
  if (amount > remaining) {
    throw invalidRequest(`Refund amount (${amount}) is greater than unrefunded amount on charge (${remaining})`, { param: 'amount', code: 'amount_too_large' });
  }
  const re: Refund = {
    id: randomId('re_'),
    object: 'refund',
    amount,
    balance_transaction: randomId('txn_'),
    charge: pi.latest_charge,
    created: store.createdNow('re'),
    currency: pi.currency,
    destination_details: null,
    metadata: p.metadata() ?? {},
    payment_intent: pi.id,
    reason: p.oneOf('reason', ['duplicate', 'fraudulent', 'requested_by_customer'] as const) ?? null,
    receipt_number: null,
    source_transfer_reversal: null,
    status: 'succeeded',
    transfer_reversal: null,
  };
  store.putRefund(re);
  return ok(re);
}

function getRefund(store: Store, id: string): Refund {
  return store.refunds.find(id, 'refund');
}

function updateRefund(store: Store, raw: FormObject, id: string): HandlerResult {
  const p = new Params(raw, ['metadata', 'expand']);
  const re = copy(getRefund(store, id));
  if (p.has('metadata')) re.metadata = p.raw.metadata === '' ? {} : mergeMetadata(re.metadata, p.metadata()!);
  store.putRefund(re);
  return ok(re);
}

function listRefunds(store: Store, raw: FormObject): HandlerResult {
  const p = new Params(raw, ['limit', 'starting_after', 'ending_before', 'created', 'payment_intent', 'charge', 'expand']);
  const piId = p.str('payment_intent');
  const chargeId = p.str('charge');
  const { data, hasMore } = store.refunds.list(listQuery(p,
    piId || chargeId ? (re) => (!piId || re.payment_intent === piId) && (!chargeId || re.charge === chargeId) : undefined));
  const body: ListResult<Refund> = { object: 'list', data, has_more: hasMore, url: '/v1/refunds' };
  return ok(body);
}

const noParams = (raw: FormObject) => new Params(raw, ['expand']);

export const endpoints: readonly Endpoint[] = [
  { method: 'POST', path: '/v1/payment_intents', handler: (s, r) => createPaymentIntent(s, r) },
  { method: 'GET', path: '/v1/payment_intents', handler: (s, r) => listPaymentIntents(s, r) },
  { method: 'GET', path: '/v1/payment_intents/search', handler: (s, r) => searchPaymentIntents(s, r) },
  { method: 'GET', path: '/v1/payment_intents/:id', handler: (s, r, id) => { noParams(r); return ok(getPaymentIntent(s, id!)); } },
  { method: 'POST', path: '/v1/payment_intents/:id', handler: (s, r, id) => updatePaymentIntent(s, r, id!) },
  { method: 'POST', path: '/v1/payment_intents/:id/confirm', handler: (s, r, id) => confirmPaymentIntent(s, r, id!) },
  { method: 'POST', path: '/v1/payment_intents/:id/capture', handler: (s, r, id) => capturePaymentIntent(s, r, id!) },
  { method: 'POST', path: '/v1/payment_intents/:id/cancel', handler: (s, r, id) => cancelPaymentIntent(s, r, id!) },
  { method: 'POST', path: '/v1/refunds', handler: (s, r) => createRefund(s, r) },
  { method: 'GET', path: '/v1/refunds', handler: (s, r) => listRefunds(s, r) },
  { method: 'GET', path: '/v1/refunds/:id', handler: (s, r, id) => { noParams(r); return ok(getRefund(s, id!)); } },
  { method: 'POST', path: '/v1/refunds/:id', handler: (s, r, id) => updateRefund(s, r, id!) },
];
