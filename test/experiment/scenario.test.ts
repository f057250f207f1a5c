// A bad scenario fails before anything is touched, with every problem listed by
// field path: in the CLI (exit 2), and in the workflow as a non-retryable failure
// (what the Temporal UI shows). The resolver's own checks: scenario.unit.test.ts.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import pg from 'pg';
import { ordealDbUrl } from '../../scripts/stack/services/postgres.ts';
import { repoRoot } from '../../scripts/stack/config.ts';
import type { OrdealClient } from '../../scripts/client/index.ts';
import { badClasses } from './bad-scenarios.ts';
import { client, config, inProcessWorker, scheduledActivities, uniqueQueue } from './harness.ts';

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
