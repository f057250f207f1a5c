// The stack's warm-up pass: when it runs, what it sends, how it is configured (pure;
// the pass itself is a real experiment, exercised by `npm run demo` and bench:verdicts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { warmupFromEnv } from '../../scripts/cli/warmup.ts';
import { WARMUP_SCENARIO, warmupMessages, warmupOverrides, warmupSkipReason } from '../../scripts/stack/warmup.ts';

void test('warm-up: its ledger is what a ramped constant-rate phase sends; its overrides name it and drop faults and thresholds', () => {
  assert.equal(warmupMessages(1000, 30_000, 10_000), 25_000);
  assert.equal(warmupMessages(200, 10_000, 0), 2000);
  assert.throws(() => warmupMessages(0, 30_000, 0), /rate > 0/);
  assert.throws(() => warmupMessages(1000, 10_000, 20_000), /ramp <= duration/);
  const o = warmupOverrides(1000, 30_000, 10_000);
  assert.ok(o.includes(`name=${WARMUP_SCENARIO}`) && o.includes('faults=[]') && o.includes('load.thresholds={}') && o.includes('ledger.messages=25000'), o.join(' '));
});

void test('warm-up runs only when this `up` started the payment API and the workers are up', () => {
  const all = new Set(['payment-api', 'worker', 'load-worker', 'kafka']);
  assert.equal(warmupSkipReason(all, new Set(['payment-api'])), null);
  assert.match(warmupSkipReason(all, new Set(['kafka']))!, /already running/);
  assert.match(warmupSkipReason(new Set(['payment-api']), new Set(['payment-api']))!, /worker, load-worker not up/);
});

void test('ORDEAL_STACK_WARMUP: default 30 s at 1,000/s, off, a length and rate; nonsense is refused with what is expected', () => {
  assert.deepEqual(warmupFromEnv(undefined), { rate: 1000, durationMs: 30_000, rampMs: 10_000 });
  assert.equal(warmupFromEnv('0'), null);
  assert.equal(warmupFromEnv('off'), null);
  assert.deepEqual(warmupFromEnv('45s@800'), { rate: 800, durationMs: 45_000, rampMs: 10_000 });
  assert.deepEqual(warmupFromEnv('6s'), { rate: 1000, durationMs: 6000, rampMs: 2000 });
  assert.throws(() => warmupFromEnv('fast'), /ORDEAL_STACK_WARMUP: expected 0, off, <duration> or <duration>@<rate>.*got "fast"/);
  assert.throws(() => warmupFromEnv('1s'), /duration >= 2s/);
});
