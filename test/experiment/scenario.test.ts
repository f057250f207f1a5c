// A bad scenario fails before anything is touched, with every problem listed by
// field path: in the resolver, in the CLI (exit 2), and in the workflow as a
// non-retryable failure (what the Temporal UI shows).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import pg from 'pg';
import { listScenarios, validateScenario } from '../../activities/scenario/index.ts';
import { ordealDbUrl } from '../../scripts/stack/services/postgres.ts';
import { repoRoot } from '../../scripts/stack/config.ts';
import type { OrdealClient } from '../../scripts/client/index.ts';
import { client, config, inProcessWorker, scheduledActivities, uniqueQueue } from './harness.ts';

/** Each class of bad scenario, as overrides of a good one, and the field path it must name. */
const badClasses: { name: string; set: string[]; path: string; says: RegExp }[] = [
  { name: 'unknown field', set: ['load.bogus=1'], path: 'load.bogus', says: /unknown field "bogus"/ },
  { name: 'wrong type', set: ['load.rate=fast'], path: 'load.rate', says: /expected number/ },
  { name: 'negative duration', set: ['faults.0.duration=-30s'], path: 'faults.0.duration', says: /not a duration/ },
  { name: 'no system of record', set: ['reconcile=[]'], path: 'reconcile', says: /at least one system of record/ },
  { name: 'negative numeric duration', set: ['faults.0.at=-5'], path: 'faults.0.at', says: />= 0/ },
  { name: 'unknown fault target', set: ['faults.0.target=nowhere'], path: 'faults.0.target', says: /unknown target "nowhere"/ },
  { name: 'harness as fault target', set: ['faults.0.target=temporal'], path: 'faults.0.target', says: /orchestrator running the experiment/ },
  // 192.0.2.0/24 is TEST-NET-1: never contacted, the resolver rejects it first.
  { name: 'non-loopback load target', set: ['load.target=http://192.0.2.10:8000'], path: 'load.target', says: /not a loopback address/ },
];

let ordeal: OrdealClient;
let stopWorker: () => Promise<void>;
const queue = uniqueQueue('test-scenario');
const testStart = new Date();

before(async () => {
  ordeal = await client(queue);
  stopWorker = (await inProcessWorker(queue)).stop;
});
after(async () => {
  await stopWorker?.();
  await ordeal?.close();
});

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

void test('the CLI refuses a bad scenario with exit 2, every problem on stderr, and starts nothing', async () => {
  const before = await ordeal.list({ scenario: 'db_failure_peak_load', limit: 1000 });
  const r = spawnSync('bash', [join(repoRoot, 'scripts', 'ordeal'), 'run', 'db_failure_peak_load', '--wait',
    '--set', 'load.rate=fast', '--set', 'faults.0.target=nowhere', '--set', 'load.target=http://192.0.2.10:8000'],
  { encoding: 'utf8', env: process.env, timeout: 60_000 });
  assert.equal(r.status, 2, r.stderr);
  for (const path of ['load.rate', 'faults.0.target', 'load.target']) assert.match(r.stderr, new RegExp(`${path.replace('.', '\\.')}:`));
  const afterRuns = await ordeal.list({ scenario: 'db_failure_peak_load', limit: 1000 });
  assert.equal(afterRuns.length, before.length, 'no workflow started');
});

void test('in the workflow a bad scenario is a non-retryable failure listing every problem, and nothing is touched', async () => {
  for (const c of badClasses) {
    const h = await ordeal.start({ scenario: 'db_failure_peak_load', overrides: c.set, skipLocalValidation: true });
    const err = await ordeal.client.workflow.getHandle(h.workflowId).result().then(() => null, (e: unknown) => e);
    assert.ok(err instanceof WorkflowFailedError, `${c.name}: workflow failed`);
    const cause = err.cause;
    assert.ok(cause instanceof ApplicationFailure, c.name);
    assert.equal(cause.type, 'InvalidScenario');
    assert.equal(cause.nonRetryable, true);
    assert.match(cause.message, new RegExp(`${c.path.replace(/\./g, '\\.')}: `), c.name);
    // Only the resolver ran, once: no ledger, no probe, no fault, no load.
    assert.deepEqual(await scheduledActivities(ordeal, h.workflowId), ['resolveScenario'], c.name);
    const d = await ordeal.client.workflow.getHandle(h.workflowId).describe();
    assert.equal(d.status.name, 'FAILED');
    assert.equal(d.typedSearchAttributes.get({ name: 'OrdealVerdict', type: 'KEYWORD' } as never), 'ERROR');
  }
  const db = new pg.Client({ connectionString: ordealDbUrl(config) });
  await db.connect();
  try {
    const exists = await db.query(`SELECT to_regclass('ledger_runs') AS t`);
    if (exists.rows[0].t) {
      const r = await db.query('SELECT count(*)::int AS n FROM ledger_runs WHERE created_at >= $1', [testStart]);
      assert.equal(r.rows[0].n, 0, 'no ledger persisted');
    }
  } finally {
    await db.end();
  }
});
