// A bad scenario fails in the resolver before anything is touched, with every problem
// listed by field path (no stack needed). The CLI's exit 2 and the workflow's
// non-retryable failure: scenario.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { listScenarios, validateScenario } from '../../activities/scenario/index.ts';
import { badClasses } from './bad-scenarios.ts';

void test('every shipped scenario validates', async () => {
  const names = listScenarios();
  for (const required of ['db_failure_peak_load', 'redis_failure', 'kafka_broker_kill', 'stream_processor_kill',
    'network_latency_db', 'stripe_rate_limit', 'payment_spike', 'soak', 'stress']) {
    assert.ok(names.includes(required), `scenarios/${required}.yaml is shipped`);
  }
  for (const name of names) {
    const r = await validateScenario({ scenario: name });
    assert.ok(r.ok, `${name}: ${r.ok ? '' : JSON.stringify(r.problems)}`);
  }
});

void test('the resolver names each bad field by path', async () => {
  for (const c of badClasses) {
    const r = await validateScenario({ scenario: 'db_failure_peak_load', overrides: c.set });
    assert.equal(r.ok, false, c.name);
    const p = !r.ok ? r.problems.find((x) => x.path === c.path) : undefined;
    assert.ok(p, `${c.name}: a problem at ${c.path} in ${JSON.stringify(!r.ok && r.problems)}`);
    assert.match(p.message, c.says, c.name);
  }
});

void test('all problems are listed at once, and allow_non_loopback lifts the loopback rule only', async () => {
  // One problem per fault field here: the fault catalog checks a fault's target once its timing parses.
  const all = ['unknown field', 'wrong type', 'unknown fault target', 'non-loopback load target'].flatMap((n) => badClasses.find((c) => c.name === n)!.set);
  const r = await validateScenario({ scenario: 'db_failure_peak_load', overrides: all });
  assert.equal(r.ok, false);
  const paths = !r.ok ? r.problems.map((p) => p.path).sort() : [];
  assert.deepEqual(paths, ['faults.0.target', 'load.bogus', 'load.rate', 'load.target']);
  const allowed = await validateScenario({ scenario: 'db_failure_peak_load',
    overrides: ['load.target=http://192.0.2.10:8000', 'safety.allow_non_loopback=true'] });
  assert.equal(allowed.ok, true);
});
