// The Stripe source against the stack's Stripe emulator, through the official SDK:
// PaymentIntents planted per class, found by metadata search across pages.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import Stripe from 'stripe';
import type { LedgerEntry, LedgerSpec } from '../../activities/ledger/index.ts';
import { createReconcileActivities, sqlOutcomeSource } from '../../activities/reconcile/index.ts';
import type { OutcomeStatus, ReconcileResult } from '../../activities/reconcile/index.ts';
import { entries, money, ordealUrl, OutcomeTable, stack, suffix } from './plant.ts';

process.env.ORDEAL_LOG_LEVEL ??= 'error';

const outcomes = new OutcomeTable();
const stripe = new Stripe('sk_test_ordeal_reconcile_tests', {
  host: '127.0.0.1', port: stack.ports.stripe_emulator, protocol: 'http', maxNetworkRetries: 2, timeout: 10_000,
});
const activities = createReconcileActivities({ outcomes: () => sqlOutcomeSource(ordealUrl, outcomes.query) });

async function pay(runId: string, messageId: string | null, amount: number, currency: string, opts: { confirm?: boolean; cancel?: boolean } = {}) {
  const pi = await stripe.paymentIntents.create({
    amount, currency, payment_method: 'pm_card_visa', confirm: opts.confirm ?? true,
    metadata: { test_run_id: runId, ...(messageId ? { message_id: messageId } : {}) },
  });
  if (opts.cancel) await stripe.paymentIntents.cancel(pi.id);
  return pi;
}

const runId = `stripe-${suffix()}`;
// Over 100 PaymentIntents, so the search spans pages.
const spec: LedgerSpec = { messages: 130, seed: 21, amount_cents: [100, 90_000], currency: ['usd', 'eur'], customers: 7 };
const e = entries(runId, spec);
const LOST = [120, 121];
const UNCONFIRMED = 122; // created, never confirmed: no money moved, so not counted (lost)
const DUP = 123;
const MISMATCH = 124;
const UNACK = 125;
const MISSING = 126;
let result: ReconcileResult;

before(async () => {
  await outcomes.create();
  await outcomes.insert(runId, e.map((x) => ({
    message_id: x.message_id, outcome: (x.seq === UNACK || x.seq === MISSING ? 'unknown' : 'acknowledged') as OutcomeStatus,
  })));
  const plain = e.filter((x) => ![...LOST, UNCONFIRMED, MISMATCH, MISSING].includes(x.seq));
  for (const x of plain) await pay(runId, x.message_id, x.amount_cents, x.currency);
  await pay(runId, e[DUP]!.message_id, e[DUP]!.amount_cents, e[DUP]!.currency);
  await pay(runId, e[MISMATCH]!.message_id, e[MISMATCH]!.amount_cents + 100, e[MISMATCH]!.currency);
  await pay(runId, e[UNCONFIRMED]!.message_id, e[UNCONFIRMED]!.amount_cents, e[UNCONFIRMED]!.currency, { confirm: false });
  await pay(runId, e[0]!.message_id, e[0]!.amount_cents, e[0]!.currency, { cancel: true, confirm: false }); // canceled copy: not a duplicate
  await pay(runId, `${runId}-00000999`, 4200, 'usd'); // ghost
  await pay(runId, null, 1000, 'eur'); // a payment of this run without a message id: ghost
  await pay(`other-${runId}`, e[1]!.message_id, e[1]!.amount_cents, e[1]!.currency); // another run: ignored
  result = await activities.reconcile({ runId, ledger: spec, sources: [{ source: 'stripe' }] });
});
after(async () => {
  await outcomes.drop();
});

void test('stripe: every class counted, across search pages', () => {
  const s = result.sources[0]!;
  const counts = Object.fromEntries(Object.entries(s.classes).map(([c, t]) => [c, t.count]));
  assert.deepEqual(counts, { ok: 130 - 7, lost: 3, duplicated: 1, ghost: 2, mismatched: 1, unacknowledged: 1, missing: 1 });
  // 125 planted once (all but lost x2, unconfirmed, mismatched, missing), a second copy, the mismatched one, 2 ghosts.
  assert.equal(s.records, 125 + 1 + 1 + 2, 'counted PaymentIntents (uncounted statuses excluded)');
  assert.equal(result.exactlyOnce, false);
});

void test('stripe: money and ids', () => {
  const c = result.sources[0]!.classes;
  const pick = (seqs: number[]): LedgerEntry[] => seqs.map((i) => e[i]!);
  assert.deepEqual(c.lost.ids, pick([...LOST, UNCONFIRMED]).map((x) => x.message_id));
  assert.deepEqual(c.lost.money, money(pick([...LOST, UNCONFIRMED])));
  assert.deepEqual(c.duplicated.money, money(pick([DUP])));
  assert.deepEqual(c.mismatched.ids, [e[MISMATCH]!.message_id]);
  assert.deepEqual(c.ghost.money, { usd: 4200, eur: 1000 });
  assert.ok(c.ghost.ids.includes(`${runId}-00000999`));
  assert.ok(c.ghost.ids.some((id) => id.startsWith('(no metadata.message_id on pi_')), c.ghost.ids.join(', '));
});

void test('stripe: PaymentIntents in statuses that move no money are reported, not counted', () => {
  const w = result.sources[0]!.warnings.join('\n');
  assert.match(w, /1 canceled/);
  assert.match(w, /1 requires_payment_method|1 requires_confirmation/);
});

void test('stripe: statuses "any" counts every PaymentIntent', async () => {
  const r = await activities.reconcile({ runId, ledger: spec, sources: [{ source: 'stripe', statuses: 'any' }] });
  const c = r.sources[0]!.classes;
  assert.equal(c.lost.count, 2);
  // The canceled copy of 0 now counts as a second copy.
  assert.deepEqual(c.duplicated.ids, [e[0]!.message_id, e[DUP]!.message_id]);
});
