// The excluded windows (workflows/excluded.ts): pure, no stack needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FaultRecord } from '../../activities/report/types.ts';
import { excludedWindows, TO_THE_END, type ExclusionInputs } from '../../workflows/excluded.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const fault = (injectedAtS: number, revertedAtS: number | null): FaultRecord => ({
  handle: { faultId: 'f1', runId: 'r', type: 'database_kill', target: 'postgres', backend: 'process',
    injectedAt: new Date(T0 + injectedAtS * 1000).toISOString(), leaseExpiresAt: new Date(T0 + 600_000).toISOString(), revert: {} },
  evidence: [], revert: null, injectedAtS, revertedAtS,
});
const base: ExclusionInputs = { loadStartedAt: T0, settleMs: 5000, recovery: null, faults: [] };

void test('nothing to leave out without faults or gaps', () => {
  assert.deepEqual(excludedWindows(base), []);
});

void test('a fault: a second before injection to revert + recovery (the slower of healthy and first success) + settling', () => {
  const w = excludedWindows({ ...base, faults: [fault(4, 9)], recovery: { recovered: true, time_to_healthy_ms: 1200, time_to_first_success_ms: 2500 } });
  assert.deepEqual(w, [{ fromMs: T0 + 3000, toMs: T0 + 9000 + 2500 + 5000, why: 'database_kill on postgres: fault, recovery and 5 s settling' }]);
});

void test('to the end of the phase: a fault never reverted, or a system that never recovered', () => {
  assert.equal(excludedWindows({ ...base, faults: [fault(4, null)] })[0]!.toMs, TO_THE_END);
  const notRecovered = { recovered: false, time_to_healthy_ms: null, time_to_first_success_ms: null };
  assert.equal(excludedWindows({ ...base, faults: [fault(4, 9)], recovery: notRecovered })[0]!.toMs, TO_THE_END);
});

void test('harness gaps are windows of their own, named as such', () => {
  const w = excludedWindows({ ...base, faults: [fault(4, 9)], harnessGaps: [{ fromMs: T0 + 20_000, toMs: T0 + 41_000, detail: 'shard 1 resumed after 21 s' }] });
  assert.deepEqual(w.map((x) => x.why), ['database_kill on postgres: fault, recovery and 5 s settling', 'harness gap: shard 1 resumed after 21 s']);
  assert.deepEqual([w[1]!.fromMs, w[1]!.toMs], [T0 + 20_000, T0 + 41_000]);
});
