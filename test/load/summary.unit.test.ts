// Merging shard results is exact (histograms add, counts sum, timelines merge by
// second) and thresholds explain themselves; stress stages give the knee.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoadStats, type EntryOutcome } from '../../activities/load/stats.ts';
import { summarize } from '../../activities/load/summarize.ts';
import { parseLoadSettings } from '../../activities/load/plan.ts';
import type { LoadShardResult, StressStageResult } from '../../activities/load/types.ts';

function outcome(seq: number, latencyMs: number, cls = ''): EntryOutcome {
  return { seq, message_id: `m${seq}`, idempotency_key: `k${seq}`, status: cls ? 'unknown' : 'acknowledged', payment_id: cls ? null : `p${seq}`,
    attempts: 1, error_class: cls || null, http_status: cls ? 503 : 201, dropped: false,
    samples: [{ t: seq * 10, c: latencyMs * 1000, u: latencyMs * 1000, cls }] };
}

function shardResult(shard: number, stats: LoadStats, stress?: StressStageResult[]): LoadShardResult {
  const e = stats.encode();
  return { shard, counts: e.counts, histogram: e.histogram, histogramUncorrected: e.histogramUncorrected, timeline: e.timeline,
    startedAt: '2026-01-01T00:00:00.000Z', endedAt: '2026-01-01T00:00:10.000Z', activeSeconds: 10, mismatches: e.mismatches,
    workers: [`w${shard}`], attempt: 1, cancelled: false, ...(stress ? { stress } : {}) };
}

void test('shard results merge exactly and thresholds give their reasons', () => {
  const a = new LoadStats();
  const b = new LoadStats();
  const all = new LoadStats();
  for (let i = 0; i < 1000; i++) {
    const o = outcome(i, i < 980 ? 5 + (i % 7) : 800, i % 100 === 0 ? 'http_5xx' : '');
    (i % 2 ? a : b).add(o);
    all.add(o);
  }
  const settings = parseLoadSettings({ target: 'http://127.0.0.1:1', rate: 100, thresholds: { p95_ms: 50, p99_ms: 100, error_rate: 0.05, min_rate: 50 } });
  const s = summarize([shardResult(0, a), shardResult(1, b)], settings);
  assert.deepEqual(s.counts, all.counts);
  assert.equal(s.latency_ms.p99, all.hist.getValueAtPercentile(99) / 1000);
  assert.equal(s.timeline.reduce((x, p) => x + p.sent, 0), 1000);
  const whole = all.encode().timeline;
  assert.deepEqual(s.timeline.map((p) => p.p99_ms), whole.map((p) => p.p99_ms), 'per-second percentiles merge exactly');
  assert.equal(s.achieved_rate, 100);
  assert.equal(s.error_rate, 0.01);
  const byName = Object.fromEntries(s.thresholds.map((t) => [t.name, t]));
  assert.equal(byName.p95_ms!.ok, true);
  assert.equal(byName.p99_ms!.ok, false);
  assert.match(byName.p99_ms!.reason, /p99_ms 8\d\d(\.\d+)? ms exceeds the limit 100 ms/);
  assert.equal(byName.error_rate!.ok, true);
  assert.equal(byName.min_rate!.ok, true);
  assert.equal(s.thresholdsOk, false);
  assert.deepEqual(s.workers, ['w0', 'w1']);
});

void test('stress: a stage passes only if it passed on every shard; the knee is the last passing rate', () => {
  const st = (rate: number, ok: boolean): StressStageResult => ({ rate, achieved_rate: rate, p95_ms: 1, p99_ms: ok ? 5 : 500, error_rate: 0, ok, reasons: ok ? [] : ['p99 500 ms > 100 ms'] });
  const settings = parseLoadSettings({ target: 'http://127.0.0.1:1', executor: 'stress', stages: [{ duration: '1s', target: 100 }, { duration: '1s', target: 200 }, { duration: '1s', target: 400 }], thresholds: { p99_ms: 100 } });
  const s = summarize([
    shardResult(0, new LoadStats(), [st(100, true), st(200, true), st(400, false)]),
    shardResult(1, new LoadStats(), [st(100, true), st(200, false)]),
  ], settings);
  assert.deepEqual(s.stress!.map((x) => x.ok), [true, false, false]);
  assert.equal(s.knee_rate, 100);
  assert.match(s.stress![2]!.reasons.join(';'), /1 shard\(s\) stopped before this stage/);
});

void test('heartbeat checkpoints stay bounded: old seconds keep their percentiles, recent ones their histograms', () => {
  const s = new LoadStats();
  for (let i = 0; i < 3000; i++) s.add(outcome(i * 10, 1 + (i % 50)));   // ten samples a second for 300 s
  const full = s.encode();
  const bounded = s.encode(true, 100);
  assert.ok(JSON.stringify(bounded).length < JSON.stringify(full).length * 0.75, `${JSON.stringify(bounded).length} vs ${JSON.stringify(full).length}`);
  assert.equal(bounded.timeline.length, 300);
  assert.equal(bounded.timeline.filter((p) => p.hist).length, 100);
  const back = LoadStats.decode(bounded);
  assert.deepEqual(back.counts, s.counts);
  assert.equal(back.hist.totalCount, s.hist.totalCount);
  assert.deepEqual(back.encode(false).timeline, s.encode(false).timeline, 'percentiles survive the round trip');
});

void test('steady-state thresholds leave out the warm-up and the fault windows, and report them beside', () => {
  // 30 s at 100 requests/s: a slow warm-up (0-3 s), an outage (10-20 s: slow, half errors), steady elsewhere.
  const a = new LoadStats();
  const b = new LoadStats();
  for (let i = 0; i < 3000; i++) {
    const sec = Math.floor(i / 100);
    const outage = sec >= 10 && sec < 20;
    const o = outcome(i, outage ? 3000 : sec < 3 ? 900 : 20 + (i % 10), outage && i % 2 ? 'http_5xx' : '');
    (i % 2 ? a : b).add(o);
  }
  const t0 = Date.parse('2026-01-01T00:00:00.000Z');
  const fault = [{ fromMs: t0 + 10_000, toMs: t0 + 20_000, why: 'database_kill on postgres' }];
  const base = { target: 'http://127.0.0.1:1', rate: 100, duration: '30s', warmup: '3s' };
  const steady = summarize([shardResult(0, a), shardResult(1, b)], parseLoadSettings({ ...base, thresholds: { p99_ms: 100, error_rate: 0.01, min_rate: 90 } }), fault);
  assert.equal(steady.thresholdsOk, true, steady.thresholds.map((t) => t.reason).join('; '));
  const w = steady.windows!;
  assert.equal(w.scope, 'steady');
  assert.deepEqual(w.excluded.map((e) => [e.from_s, e.to_s, e.why]), [[0, 3, 'warm-up'], [10, 20, 'database_kill on postgres']]);
  assert.equal(w.judged.seconds, 17);
  assert.equal(w.judged.requests, 1700);
  assert.equal(w.judged.errors, 0);
  assert.ok(w.judged.latency_ms.p99 < 31, `steady p99 ${w.judged.latency_ms.p99}`);
  assert.equal(w.disturbed!.seconds, 13);
  assert.equal(w.disturbed!.errors, 500);
  assert.ok(w.disturbed!.latency_ms.p99 >= 2900, `disturbed p99 ${w.disturbed!.latency_ms.p99}`);
  assert.match(steady.thresholds.find((t) => t.name === 'p99_ms')!.reason, /over 17 steady-state s/);
  // The overall numbers are still there, and judging every second breaks both thresholds.
  assert.ok(steady.latency_ms.p99 >= 2900);
  const all = summarize([shardResult(0, a), shardResult(1, b)], parseLoadSettings({ ...base, thresholds: { p99_ms: 100, error_rate: 0.01, scope: 'all' } }), fault);
  assert.equal(all.windows, undefined);
  assert.deepEqual(all.thresholds.map((t) => [t.name, t.ok]), [['p99_ms', false], ['error_rate', false]]);
  // A fault over the whole phase leaves nothing steady: every second is judged, and the summary says why.
  const whole = summarize([shardResult(0, a), shardResult(1, b)], parseLoadSettings({ ...base, thresholds: { p99_ms: 100 } }),
    [{ fromMs: t0 - 1000, toMs: t0 + 60_000, why: 'everything' }]);
  assert.equal(whole.windows!.scope, 'all');
  assert.match(whole.windows!.note!, /no second/);
  assert.equal(whole.thresholdsOk, false);
});
