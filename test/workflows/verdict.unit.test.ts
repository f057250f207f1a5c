// The verdict rules (workflows/verdict.ts): pure, no stack needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideVerdict, type VerdictInputs } from '../../workflows/verdict.ts';

const clean: VerdictInputs = { revertFailed: false, error: null, stopped: null, failures: [], notes: [], reconciled: { exactlyOnce: true } };

void test('PASS only when the run ended, reconciled exactly once and nothing failed', () => {
  assert.deepEqual(decideVerdict(clean), { verdict: 'PASS', reasons: [] });
  assert.deepEqual(decideVerdict({ ...clean, notes: ['drain deadline passed'] }), { verdict: 'PASS', reasons: ['drain deadline passed'] });
});

void test('FAIL: a failure of the system, or no reconciliation at all', () => {
  assert.deepEqual(decideVerdict({ ...clean, failures: ['threshold p99_ms broken'], notes: ['n'] }),
    { verdict: 'FAIL', reasons: ['threshold p99_ms broken', 'n'] });
  assert.equal(decideVerdict({ ...clean, reconciled: null }).verdict, 'FAIL');
});

void test('FAIL with a reason when reconciliation says not exactly-once but named no class', () => {
  assert.deepEqual(decideVerdict({ ...clean, reconciled: { exactlyOnce: false } }),
    { verdict: 'FAIL', reasons: ['reconciliation: exactly-once does not hold'] });
  // A named failure is reason enough: no generic line beside it.
  assert.deepEqual(decideVerdict({ ...clean, reconciled: { exactlyOnce: false }, failures: ['postgres: 3 lost'] }).reasons, ['postgres: 3 lost']);
});

void test('ABORTED keeps its verdict whatever the findings; the stop reason comes first', () => {
  const d = decideVerdict({ ...clean, stopped: 'aborted: operator saw enough', failures: ['threshold broken'], reconciled: { exactlyOnce: false } });
  assert.equal(d.verdict, 'ABORTED');
  assert.deepEqual(d.reasons, ['aborted: operator saw enough', 'threshold broken']);
});

void test("ERROR is Ordeal's own failure and wins over everything, the error first", () => {
  assert.equal(decideVerdict({ ...clean, revertFailed: true, failures: ['revert of fault f1 failed'] }).verdict, 'ERROR');
  const d = decideVerdict({ ...clean, error: 'reconcile failed: database unreachable', stopped: 'aborted: x', failures: ['f'] });
  assert.equal(d.verdict, 'ERROR');
  assert.deepEqual(d.reasons, ['reconcile failed: database unreachable', 'aborted: x', 'f']);
});

void test('the inputs are not changed', () => {
  const failures: string[] = [];
  decideVerdict({ ...clean, failures, reconciled: { exactlyOnce: false } });
  assert.deepEqual(failures, []);
});
