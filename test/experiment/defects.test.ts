// Detection power: the reference payment API with a seeded defect switched on must
// FAIL the scenario that exposes it (and the correct system PASSes the same
// scenarios: experiment.test.ts). The payment API is restarted with the defect and
// restored afterwards.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { OrdealClient } from '../../scripts/client/index.ts';
import { repoRoot } from '../../scripts/stack/config.ts';
import { experimentRig, type Rig, shortDbKill } from './harness.ts';

let ordeal: OrdealClient;
let rig: Rig | undefined;
let loadTaskQueue: string;

function paymentApiWith(defects: string): void {
  const r = spawnSync('bash', [join(repoRoot, 'scripts', 'ordeal'), 'stack', 'up', 'payment-api', '--defects', defects],
    { encoding: 'utf8', env: process.env, timeout: 120_000 });
  assert.equal(r.status, 0, `stack up payment-api --defects ${defects}: ${r.stderr}`);
}

before(async () => {
  rig = await experimentRig('test-defects');
  ({ ordeal, loadTaskQueue } = rig);
});
after(async () => {
  paymentApiWith('none');
  await rig?.close();
});

void test('ack_before_commit under a database kill: FAIL with lost payments', async () => {
  paymentApiWith('ack_before_commit');
  try {
    const h = await ordeal.start({ scenario: 'db_failure_peak_load', overrides: shortDbKill, loadTaskQueue });
    const r = await h.result();
    assert.equal(r.verdict, 'FAIL', r.reasons.join('\n'));
    const pg = r.report.reconcile!.sources.find((s) => s.source === 'postgres')!;
    assert.ok(pg.classes.lost.count > 0, `lost in postgres: ${JSON.stringify(pg.classes.lost)}`);
    assert.ok(r.reasons.some((x) => /postgres: \d+ lost/.test(x)), r.reasons.join('\n'));
    assert.equal(r.report.faults[0]!.revert?.reverted, true);
  } finally {
    paymentApiWith('none');
  }
});

void test('idempotency_cache_only under a Redis failure: FAIL with duplicates', async () => {
  paymentApiWith('idempotency_cache_only');
  try {
    const h = await ordeal.start({
      scenario: 'redis_failure', loadTaskQueue,
      overrides: ['ledger.messages=1500', 'load.rate=100', 'load.duration=15s', 'load.thresholds={}',
        'faults.0.at=4s', 'faults.0.duration=5s', 'recovery.timeout=45s', 'drain.timeout=45s'],
    });
    const r = await h.result();
    assert.equal(r.verdict, 'FAIL', r.reasons.join('\n'));
    // The database holds payments twice; the idempotency races saw two different payment ids.
    const pg = r.report.reconcile!.sources.find((s) => s.source === 'postgres')!;
    assert.ok(pg.classes.duplicated.count > 0, `duplicated in postgres: ${r.reasons.join('\n')}`);
    assert.ok(r.reasons.some((x) => /postgres: \d+ duplicated/.test(x)));
  } finally {
    paymentApiWith('none');
  }
});
