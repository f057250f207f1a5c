// Messages between the reference systems. The payment API's outbox relay produces
// PaymentEvent to `payments` (key = message_id, at least once); the stream processor
// produces SettlementEvent to `payments.settled` exactly once (transactional).
export const PAYMENTS_TOPIC = 'payments';
export const SETTLED_TOPIC = 'payments.settled';

export interface PaymentEvent {
  message_id: string;
  payment_id: string;
  test_run_id: string;
  amount_cents: number;
  currency: string;
  customer_id: string;
  stripe_payment_intent_id: string | null;
  created_at: string;
}

export interface SettlementEvent {
  message_id: string;
  payment_id: string;
  test_run_id: string;
  amount_cents: number;
  currency: string;
  fee_cents: number;
  net_cents: number;
  settled_at: string;
}
