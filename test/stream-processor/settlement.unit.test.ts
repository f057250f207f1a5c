// The processor's pure parts: settlement arithmetic, PaymentEvent validation, and
// which seeded defects it acts on.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deliveryMode, feeCents, parseDefects, parsePaymentEvent, settle } from '../../systems/stream-processor/index.ts';
import { makeEvents } from './harness.ts';

void test('settlement: fee 2.9 % + 30 cents, net = amount - fee, never negative', () => {
  assert.equal(feeCents(10000), 320);
  assert.equal(feeCents(100), 33);
  assert.equal(feeCents(20), 20, 'fee capped at the amount');
  const e = makeEvents('unit', 0, 1)[0]!;
  const s = settle({ ...e, amount_cents: 12345 }, new Date('2026-01-02T03:04:05Z'));
  assert.deepEqual(s, { message_id: e.message_id, payment_id: e.payment_id, test_run_id: e.test_run_id, amount_cents: 12345,
    currency: e.currency, fee_cents: 388, net_cents: 11957, settled_at: '2026-01-02T03:04:05.000Z' });
  for (const amount of [1, 29, 30, 31, 99, 1000, 49999, 1_000_000]) {
    const x = settle({ ...e, amount_cents: amount });
    assert.ok(x.net_cents >= 0 && x.fee_cents + x.net_cents === amount, `amount ${amount}`);
  }
});

void test('PaymentEvent validation names the bad field and never throws', () => {
  const e = makeEvents('unit', 0, 1)[0]!;
  assert.deepEqual(parsePaymentEvent(Buffer.from(JSON.stringify(e))), { ok: true, event: e });
  const bad = parsePaymentEvent(Buffer.from(JSON.stringify({ ...e, amount_cents: 1.5 })));
  assert.equal(bad.ok, false);
  assert.match(!bad.ok ? bad.error : '', /amount_cents/);
  assert.match((parsePaymentEvent(Buffer.from('{nope')) as { error: string }).error, /not JSON/);
  assert.match((parsePaymentEvent(null) as { error: string }).error, /tombstone/);
  assert.match((parsePaymentEvent(Buffer.from('{}')) as { error: string }).error, /message_id/);
});

void test('ORDEAL_DEFECTS: the processor acts on its own names only; loss wins over duplicates', () => {
  assert.deepEqual(parseDefects(undefined), { enabled: [], others: [] });
  assert.deepEqual(parseDefects(' ack_before_commit , consumer_at_least_once,,'),
    { enabled: ['consumer_at_least_once'], others: ['ack_before_commit'] });
  assert.equal(deliveryMode([]), 'exactly_once');
  assert.equal(deliveryMode(['consumer_at_least_once']), 'at_least_once');
  assert.equal(deliveryMode(['consumer_at_least_once', 'consumer_commit_before_process']), 'commit_before_process');
});
