// The pure parts of reconciliation: the ledger index (ids recognised exactly, by
// shape or by regeneration) and money in major units. No stack.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ledgerSlice, type LedgerSpec } from '../../activities/ledger/index.ts';
import { formatMoney, LedgerIndex } from '../../activities/reconcile/index.ts';

const entries = (runId: string, spec: LedgerSpec) => [...ledgerSlice(runId, spec, 0, spec.messages)];

void test('ledger index: exact ids only, by shape once built and by regeneration before', async () => {
  const spec: LedgerSpec = { messages: 100, seed: 3, amount_cents: [1, 2], currency: 'usd', customers: 1 };
  const index = new LedgerIndex('run-x', spec);
  const lookAlikes = ['run-x-00000100', 'run-x-0000001', 'run-x-000000001', 'run-y-00000001', 'run-x-', 'run-x-0000000a', '',
    'run-x-00000001 ', 'run-x--0000001', 'run-x-1'];
  for (const built of [false, true]) {
    if (built) await index.build();
    for (const e of entries('run-x', spec)) assert.equal(index.seqOf(e.message_id), e.seq, `${e.message_id} (built ${built})`);
    for (const id of lookAlikes) assert.equal(index.seqOf(id), -1, `${id} (built ${built})`);
  }
  for (const e of entries('run-x', spec)) {
    assert.equal(index.amountOf(e.seq), e.amount_cents);
    assert.equal(index.currencyOfSeq(e.seq), e.currency);
  }
});

void test('money reads in major units per currency (jpy has no minor unit)', () => {
  assert.equal(formatMoney({ usd: 123456, jpy: 500, eur: 0 }), 'jpy 500 + usd 1,234.56');
  assert.equal(formatMoney({}), '0');
});
