// The partial-proof decision and the proof line (workflows/proof.ts): pure, no stack needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ReconcileResult } from '../../activities/reconcile/types.ts';
import { partialProofPlan, proofSummary } from '../../workflows/proof.ts';

const stoppedClean = { stopped: true, revertFailed: false, error: null, loadStarted: true };

void test('a run cut short after load began, its faults reverted: attempt a partial proof', () => {
  assert.deepEqual(partialProofPlan(stoppedClean), { attempt: true });
});

void test('no partial proof: not cut short, a fault still active, Ordeal failed, or nothing sent', () => {
  assert.deepEqual(partialProofPlan({ ...stoppedClean, stopped: false }), { attempt: false, why: 'the run ended before its reconcile phase (see the reasons)' });
  // Ordeal's failure and a stuck fault win over "not cut short".
  assert.equal(partialProofPlan({ ...stoppedClean, stopped: false, revertFailed: true }).attempt, false);
  assert.deepEqual(partialProofPlan({ ...stoppedClean, revertFailed: true }),
    { attempt: false, why: 'a fault could not be reverted, so the systems of record may still be disturbed' });
  assert.deepEqual(partialProofPlan({ ...stoppedClean, error: 'load failed: x' }), { attempt: false, why: 'Ordeal failed (load failed: x)' });
  assert.deepEqual(partialProofPlan({ ...stoppedClean, loadStarted: false }), { attempt: false, why: 'the run stopped before anything was sent' });
});

const result = (scope: ReconcileResult['scope'], exactlyOnce: boolean): ReconcileResult => ({
  runId: 'r', scope, ledgerCount: 100, exactlyOnce, failures: [], duration_ms: 1,
  outcomes: { acknowledged: 40, failed: 1, unknown: 4, none: 55, outside_ledger: 0 },
  sources: ['postgres', 'kafka'].map((source) => ({ source, kind: source, records: 40, classes: {} as never, warnings: [], duration_ms: 1 })),
});

void test('the proof line: full, partial (with what was not judged), or none with why', () => {
  assert.deepEqual(proofSummary(result('full', true), ''),
    { kind: 'full', detail: 'all 100 ledger entries reconciled against postgres, kafka after redelivery: exactly-once held' });
  assert.deepEqual(proofSummary(result('acknowledged', false), '', 52), { kind: 'partial', detail:
    'the run was cut short; the 40 acknowledged entries were reconciled against postgres, kafka: exactly-once broken (see the reasons). '
    + 'Not judged: 52 entries never sent, 8 sent without a definitive answer (not redelivered).', acknowledged: 40, never_sent: 52, unanswered: 8 });
  assert.deepEqual(proofSummary(null, 'the run stopped before anything was sent'),
    { kind: 'none', detail: 'nothing was reconciled: the run stopped before anything was sent' });
});
