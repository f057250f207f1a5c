// The reference payment API: exactly one payment per Idempotency-Key, charged through
// Stripe, published through a transactional outbox to Kafka topic `payments`.
export { startPaymentApi, type PaymentApi } from './app.ts';
export { configFromEnv, resolveConfig, defaultCurrencies, type PaymentApiConfig, type PaymentApiOptions } from './config.ts';
export { schemaSql, type PaymentRow } from './store.ts';
export { BODY_LIMIT_BYTES, MAX_ID_LENGTH, MAX_KEY_LENGTH, type PaymentRequest, type FieldError } from './validation.ts';
