// Load settings validation, shard planning and request templates (pure code).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseLoadSettings, planLoadShards, LoadSettingsError } from '../../activities/load/plan.ts';
import { compileTemplate } from '../../activities/load/template.ts';
import { ledgerEntry } from '../../activities/ledger/generate.ts';
import { ledgerSpecSchema } from '../../activities/ledger/types.ts';
import { arrivalSchedule } from '../../activities/load/schedule.ts';

const target = 'http://127.0.0.1:1';
const problems = (input: unknown): string => {
  try { parseLoadSettings(input); } catch (err) {
    assert.ok(err instanceof LoadSettingsError, `expected LoadSettingsError, got ${String(err)}`);
    return err.message;
  }
  assert.fail('settings were accepted');
};

void test('bad load settings give clear, field-level errors', () => {
  assert.match(problems({ target, rate: 0 }), /load\.rate: must be > 0 .*\(got 0\)/);
  assert.match(problems({ target, rate: -5 }), /load\.rate:.*\(got -5\)/);
  assert.match(problems({ target, executor: 'poisson', rate: 10 }), /load\.executor:.*constant-arrival-rate.*\(got "poisson"\)/s);
  assert.match(problems({ target, executor: 'stress', stages: [{ duration: '5s', target: 100 }, { duration: '5s', target: 50 }], thresholds: { p99_ms: 100 } }),
    /load\.stages\[1\]\.target: stress stages must increase the rate; 50 follows 100/);
  assert.match(problems({ target, rate: 10, request: { body: { id: '{{message_id}}', who: '{{customer_name}}' } } }),
    /load\.request\.body\.who: \{\{customer_name\}\} is not a ledger field/);
  assert.match(problems({ target, executor: 'constant-arrival-rate' }), /load\.rate: constant-arrival-rate needs a rate/);
  assert.match(problems({ target, executor: 'ramping-arrival-rate', rate: 5 }), /load\.stages: ramping-arrival-rate needs stages/);
  assert.match(problems({ target, executor: 'constant-vus', vus: 3 }), /load\.duration: constant-vus needs a duration/);
  assert.match(problems({ target, rate: 10, mix: { rapid: 1, stampede: 2 } }), /load\.mix\.stampede: unknown user pattern/);
  assert.match(problems({ target, rate: 10, duration: 'soon' }), /load\.duration: "soon" is not a duration/);
  assert.match(problems({ target: 'not a url', rate: 10 }), /load\.target/);
});

void test('shards are disjoint contiguous slices covering the ledger, each at rate/N', () => {
  const ledger = ledgerSpecSchema.parse({ messages: 1003 });
  const settings = parseLoadSettings({ target, rate: 900, shards: 4, max_in_flight: 100 });
  const shards = planLoadShards('run-1', settings, ledger);
  assert.equal(shards.length, 4);
  let next = 0;
  for (const s of shards) {
    assert.equal(s.from, next);
    assert.ok(s.to > s.from);
    assert.equal(s.settings.rate, 225);
    assert.equal(s.settings.max_in_flight, 25);
    next = s.to;
  }
  assert.equal(next, 1003);
  assert.deepEqual(shards.map((s) => s.to - s.from), [251, 251, 251, 250]);
  const vus = planLoadShards('r', parseLoadSettings({ target, executor: 'constant-vus', vus: 5, duration: '1s', shards: 2 }), ledger);
  assert.deepEqual(vus.map((s) => s.settings.vus), [3, 2]);
  // More shards than messages: never an empty shard.
  assert.equal(planLoadShards('r', parseLoadSettings({ target, rate: 10, shards: 8 }), ledgerSpecSchema.parse({ messages: 3 })).length, 3);
});

void test('the default template builds the documented request; custom templates substitute ledger fields', () => {
  const ledger = ledgerSpecSchema.parse({ messages: 10 });
  const e = ledgerEntry('run-7', ledger, 3);
  const def = compileTemplate(undefined).build(e, 'run-7');
  assert.equal(def.method, 'POST');
  assert.equal(def.path, '/payments');
  assert.equal(def.headers['idempotency-key'], e.idempotency_key);
  assert.deepEqual(JSON.parse(def.body!), { message_id: e.message_id, amount_cents: e.amount_cents, currency: e.currency,
    customer_id: e.customer_id, test_run_id: 'run-7' });
  const custom = compileTemplate({ method: 'PUT', path: '/v2/charges/{{message_id}}', headers: { 'X-Key': 'k-{{idempotency_key}}' },
    body: { amount: { value: '{{amount_cents}}', cur: '{{currency}}' }, note: 'run {{run_id}} "quoted"' }, ack_id_field: 'charge.id' });
  const b = custom.build(e, 'run-7');
  assert.equal(b.path, `/v2/charges/${e.message_id}`);
  assert.equal(b.headers['x-key'], `k-${e.idempotency_key}`);
  assert.deepEqual(JSON.parse(b.body!), { amount: { value: e.amount_cents, cur: e.currency }, note: 'run run-7 "quoted"' });
  assert.equal(custom.ackId({ charge: { id: 'ch_1' } }), 'ch_1');
  // A scenario template without a body still sends the ledger fields; GET sends none.
  const pathOnly = parseLoadSettings({ target, rate: 1, request: { path: '/v1/pay' } }).request;
  assert.deepEqual(JSON.parse(compileTemplate(pathOnly).build(e, 'run-7').body!), JSON.parse(def.body!));
  assert.equal(compileTemplate({ ...pathOnly!, method: 'GET' }).build(e, 'run-7').body, undefined);
  assert.equal(custom.ackId({ id: 'x' }), undefined);
});

void test('ramping arrival schedule integrates the rate exactly', () => {
  const s = parseLoadSettings({ target, executor: 'ramping-arrival-rate', rate: 0, stages: [{ duration: '10s', target: 100 }, { duration: '5s', target: 100 }] });
  const sched = arrivalSchedule(s);
  assert.equal(sched.limit, 500 + 500);
  // Linear ramp 0→100/s over 10 s: arrival k at t = sqrt(2k/10) s.
  assert.ok(Math.abs(sched.at(125) - 5000) < 1, `arrival 125 at ${sched.at(125)} ms`);
  assert.ok(Math.abs(sched.at(750) - 12_500) < 1, `arrival 750 at ${sched.at(750)} ms`);
  // A warm-up ramps constant-arrival-rate from 0 over its length, within the duration.
  const warm = arrivalSchedule(parseLoadSettings({ target, rate: 100, duration: '10s', warmup: '4s' }));
  assert.equal(warm.limit, 100 * (10 - 4 / 2));
  assert.ok(Math.abs(warm.at(50) - 2000) < 1, `arrival 50 at ${warm.at(50)} ms`);   // 100 t²/8 = 50 at t = 2 s
  assert.ok(Math.abs(warm.at(200) - 4000) < 1 && Math.abs(warm.at(700) - 9000) < 1);
  assert.throws(() => parseLoadSettings({ target, rate: 100, duration: '10s', warmup: '10s' }), /load\.warmup: must be shorter than load\.duration/);
  const stress = arrivalSchedule(parseLoadSettings({ target, executor: 'stress', stages: [{ duration: '2s', target: 10 }, { duration: '2s', target: 20 }], thresholds: { p99_ms: 5 } }));
  assert.equal(stress.limit, 60);
  assert.ok(Math.abs(stress.at(30) - 2500) < 1e-6);
});
