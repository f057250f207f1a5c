// Harness gaps in the live view (scripts/live/state.ts liveGaps, workflows/progress.ts
// progressGaps): closed ones come from the shards' own progress, an open one is a shard
// still running whose progress has not changed for STARVED_MS by the view's clock. Pure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { STARVED_MS } from '../../activities/load/gaps.ts';
import type { HarnessGap, LoadProgress } from '../../activities/load/types.ts';
import { liveGaps, type ShardWatch } from '../../scripts/live/state.ts';
import { progressGaps } from '../../workflows/progress.ts';
import type { ExperimentStatus } from '../../workflows/types.ts';

const origin = Date.parse('2026-12-04T10:00:00Z');
const at = (s: number) => origin + s * 1000;

function status(o: Partial<ExperimentStatus>): ExperimentStatus {
  return {
    run_id: 'r1', scenario: 's', phase: 'load', elapsed_ms: 0, started_at: new Date(origin).toISOString(), sent: 0, acked: 0, failed: 0,
    unacknowledged: 0, never_sent: 0, rate: 0, p99_ms: 0, active_faults: [], verdict: null, abort_reason: null, shards: { reporting: 2, planned: 2 }, ...o,
  };
}

const starved: HarnessGap = { shard: 1, kind: 'starved', fromMs: at(12), toMs: at(17.5), why: "harness gap: shard 2's load worker was starved for 5.5 s" };

void test('a shard that stops reporting opens a gap after STARVED_MS by the view\'s clock; its own gap replaces it when it reports again', () => {
  const watch: ShardWatch = new Map();
  const shards = (beat1: number) => [{ shard: 0, last_progress_ms: at(12), done: false }, { shard: 1, last_progress_ms: beat1, done: false }];
  // Both shards beat at +12 s; the view samples every second.
  assert.deepEqual(liveGaps(watch, status({ load_shards: shards(at(12)) }), origin, at(12.3)), []);
  // Shard 1 goes on beating (new values), shard 0 is quiet: nothing yet before STARVED_MS.
  assert.deepEqual(liveGaps(watch, status({ load_shards: [{ shard: 0, last_progress_ms: at(12), done: false }, { shard: 1, last_progress_ms: at(14), done: false }] }),
    origin, at(12.3) + STARVED_MS - 1), []);
  const open = liveGaps(watch, status({ load_shards: [{ shard: 0, last_progress_ms: at(12), done: false }, { shard: 1, last_progress_ms: at(15), done: false }] }),
    origin, at(12.3) + STARVED_MS);
  assert.equal(open.length, 1);
  assert.deepEqual({ ...open[0], why: undefined }, { shard: 0, from_s: 12, to_s: 15.3, kind: 'harness_gap', open: true, why: undefined });
  assert.match(open[0]!.why, /^harness gap \(open\): no progress from shard 1 for 3 s/);
  // It grows while the shard stays quiet.
  const later = liveGaps(watch, status({ load_shards: [{ shard: 0, last_progress_ms: at(12), done: false }, { shard: 1, last_progress_ms: at(17), done: false }] }), origin, at(20));
  assert.deepEqual(later.map((g) => [g.from_s, g.to_s, g.open]), [[12, 20, true]]);

  // The shard reports again (its worker ran): its own closed gap, and no open one.
  const closed = liveGaps(watch, status({ harness_gaps: [starved], load_shards: [{ shard: 0, last_progress_ms: at(20.5), done: false }, { shard: 1, last_progress_ms: at(20), done: false }] }),
    origin, at(21));
  assert.deepEqual(closed, [{ shard: 1, from_s: 12, to_s: 17.5, why: starved.why, kind: 'harness_gap' }]);
});

void test('no open gap for a finished shard, outside the load phase, or for clock skew', () => {
  const quiet = [{ shard: 0, last_progress_ms: at(5), done: true }, { shard: 1, last_progress_ms: at(5), done: false }];
  const watch: ShardWatch = new Map();
  liveGaps(watch, status({ load_shards: quiet }), origin, at(5));
  assert.deepEqual(liveGaps(watch, status({ load_shards: quiet }), origin, at(30)).map((g) => g.shard), [1], 'only the running shard');
  assert.deepEqual(liveGaps(watch, status({ phase: 'recovery', load_shards: quiet }), origin, at(40)), [], 'the load phase is over');

  // A load worker whose clock runs 60 s ahead: still beating (its values change) is not a gap,
  // and once quiet, the gap starts when the view first saw its last value, not in the future.
  const skewed: ShardWatch = new Map();
  for (let t = 0; t <= 10; t++) {
    assert.deepEqual(liveGaps(skewed, status({ load_shards: [{ shard: 0, last_progress_ms: at(t + 60), done: false }] }), origin, at(t + 0.2)), []);
  }
  const g = liveGaps(skewed, status({ load_shards: [{ shard: 0, last_progress_ms: at(70), done: false }] }), origin, at(14));
  assert.deepEqual(g.map((x) => [x.from_s, x.to_s]), [[10.2, 14]]);
  // A run of an older worker (no gap fields in its status): nothing, no error.
  assert.deepEqual(liveGaps(new Map(), status({}), origin, at(50)), []);
});

void test('the status carries every shard\'s gaps, oldest first', () => {
  const p = (shard: number, gaps?: HarnessGap[]): LoadProgress => ({ shard, rate: 1, p99_ms: 1, at_ms: at(30),
    counts: { sent: 0, requests: 0, acked: 0, failed: 0, unknown: 0, late: 0, dropped: 0, retries: 0, errorsByClass: {} }, ...(gaps ? { gaps } : {}) });
  const resumed: HarnessGap = { shard: 0, kind: 'resumed', fromMs: at(4), toMs: at(27), why: 'harness gap: no load worker sent for shard 1 for 21.0 s' };
  assert.deepEqual(progressGaps([p(1, [starved]), p(0, [resumed]), p(2)]), [resumed, starved]);
  assert.deepEqual(progressGaps([]), []);
});
