import assert from 'node:assert/strict';
import { test } from 'node:test';
import { STALE_MS, stalledShards, type LoadFlow } from '../../workflows/load-flow.ts';

const flow = (o: Partial<LoadFlow>): LoadFlow => ({ planned: 2, lastSignalAt: new Map(), finished: new Set(), loadStartedAt: 10_000, ...o });

void test('a shard that signalled within STALE_MS is flowing; one silent for longer is stalled', () => {
  const f = flow({ lastSignalAt: new Map([[0, 20_000], [1, 20_000 - STALE_MS - 1]]) });
  assert.deepEqual(stalledShards(f, 20_000), [1]);
  assert.deepEqual(stalledShards(f, 20_000 - 1), []);
});

void test('a shard that never signalled counts from the load start: stalled once STALE_MS passed without a signal', () => {
  assert.deepEqual(stalledShards(flow({}), 10_000 + STALE_MS), []);
  assert.deepEqual(stalledShards(flow({}), 10_000 + STALE_MS + 1), [0, 1]);
});

void test('a finished shard stops signalling without being stalled', () => {
  const f = flow({ lastSignalAt: new Map([[0, 11_000], [1, 30_000]]), finished: new Set([0]) });
  assert.deepEqual(stalledShards(f, 30_500), []);
});
