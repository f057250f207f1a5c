// Progress totals and the partial load summary (workflows/progress.ts): pure, no stack needed.
// Also: the names every part agrees on (workflows/names.ts) match the registered workflows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LoadProgress } from '../../activities/load/types.ts';
import { partialLoadSummary, progressTotals } from '../../workflows/progress.ts';
import { EXPERIMENT_WORKFLOW, SOAK_WORKFLOW, WORKFLOW_TYPES } from '../../workflows/names.ts';
import * as workflows from '../../workflows/index.ts';

const shard = (n: number, acked: number, p99: number, errors: Record<string, number> = {}): LoadProgress => ({
  shard: n, rate: 50, p99_ms: p99,
  counts: { sent: acked + 2, requests: acked + 5, acked, failed: 1, unknown: 1, late: 3, dropped: 1, retries: 3, errorsByClass: errors },
});

void test('totals add counts, rates and error classes over shards; p99 is the worst shard', () => {
  const t = progressTotals([shard(0, 10, 40, { timeout: 2 }), shard(1, 20, 90, { timeout: 1, http_5xx: 4 })]);
  assert.deepEqual(t, { sent: 34, requests: 40, acked: 30, failed: 2, unknown: 2, late: 6, dropped: 2, retries: 6,
    errorsByClass: { timeout: 3, http_5xx: 4 }, rate: 100, p99_ms: 90 });
  assert.equal(progressTotals([]).acked, 0);
});

void test('a partial summary carries the last counts, marked cancelled', () => {
  const s = partialLoadSummary([shard(0, 10, 40), shard(1, 20, 90)]);
  assert.equal(s.cancelled, true);
  assert.equal(s.counts.acked, 30);
  assert.equal(s.error_rate, 4 / 34);
  assert.equal(s.latency_ms.p99, 90);
  assert.deepEqual(s.thresholds, []);
});

void test('workflow type names are the exported workflow functions', () => {
  assert.equal(workflows.chaosExperiment.name, EXPERIMENT_WORKFLOW);
  assert.equal(workflows.soakExperiment.name, SOAK_WORKFLOW);
  assert.deepEqual([...WORKFLOW_TYPES], [EXPERIMENT_WORKFLOW, SOAK_WORKFLOW]);
});
