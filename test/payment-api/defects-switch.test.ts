// The defects switch for the whole stack: `ordeal stack up --defects a,b` starts each
// process with its own share in ORDEAL_DEFECTS, `ordeal stack status` shows what is
// on, a restart after a kill keeps them, and `--defects none` turns them off again
// (parsing the names: defects-parse.unit.test.ts).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { request } from 'undici';
import { readPidFile, terminate } from '../../scripts/stack/process.ts';
import { config } from './helpers.ts';

const cli = (...args: string[]) => spawnSync('bash', [join(config.root, 'scripts', 'ordeal'), ...args], { encoding: 'utf8', env: process.env });

async function apiDefects(): Promise<string[]> {
  // A new connection each time: the process behind the port changes between calls.
  const res = await request(`http://127.0.0.1:${config.ports.payment_api}/health`, { reset: true });
  return ((await res.body.json()) as { defects: string[] }).defects;
}

void describe('seeded defects switch', () => {
  void test('stack up --defects turns them on in the owning process; status shows them; a restart keeps them; none turns them off', async () => {
    try {
      const on = cli('stack', 'up', 'payment-api', '--defects', 'ack_before_commit,consumer_commit_before_process');
      assert.equal(on.status, 0, on.stderr);
      assert.match(on.stderr, /payment-api\s+restarting \(defects none -> ack_before_commit\)/);
      assert.deepEqual(await apiDefects(), ['ack_before_commit']);
      const status = cli('stack', 'status', '--json');
      const rows = JSON.parse(status.stdout) as { service: string; defects: string[] | null }[];
      assert.deepEqual(rows.find((r) => r.service === 'payment-api')?.defects, ['ack_before_commit']);
      assert.equal(rows.find((r) => r.service === 'postgres')?.defects, null, 'services without defects show none');
      assert.match(cli('stack', 'status').stdout, /seeded defects: ack_before_commit \(payment-api\)/);
      // Again with the same set: nothing restarts.
      assert.doesNotMatch(cli('stack', 'up', 'payment-api', '--defects', 'ack_before_commit').stderr, /restarting/);
      const bad = cli('stack', 'up', 'payment-api', '--defects', 'nonsense');
      assert.notEqual(bad.status, 0);
      assert.match(bad.stderr, /unknown defect\(s\): nonsense/);
      assert.deepEqual(await apiDefects(), ['ack_before_commit'], 'a rejected request changes nothing');
      // `up` without --defects keeps them, and so does a restart after a crash.
      assert.doesNotMatch(cli('stack', 'up', 'payment-api').stderr, /restarting/);
      const rec = readPidFile(join(config.home, 'run', 'payment-api.pid'))!;
      await terminate(rec, 'SIGKILL', 0);
      const back = cli('stack', 'up', 'payment-api');
      assert.equal(back.status, 0, back.stderr);
      assert.match(back.stderr, /payment-api\s+starting/);
      assert.deepEqual(await apiDefects(), ['ack_before_commit'], 'the restarted process carries the defect again');
    } finally {
      const off = cli('stack', 'up', 'payment-api', '--defects', 'none');
      assert.equal(off.status, 0, off.stderr);
    }
    assert.deepEqual(await apiDefects(), []);
    assert.match(cli('stack', 'status').stdout, /seeded defects: none/);
  });
});
