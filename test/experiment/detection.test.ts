// The detection matrix, short: through the real workflow on the test stack, a seeded
// defect is caught by its class and the correct system passes the same scenario (the
// full matrix is `npm run bench:detection`). The matrix's own rule: detection.unit.test.ts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { runCell, shortScenarios, switchDefects } from '../../bench/detection-matrix.ts';
import type { OrdealClient } from '../../scripts/client/index.ts';
import { config, experimentRig, type Rig } from './harness.ts';

let ordeal: OrdealClient;
let rig: Rig | undefined;
let loadTaskQueue: string;

before(async () => {
  rig = await experimentRig('test-detection');
  ({ ordeal, loadTaskQueue } = rig);
});
after(async () => {
  await switchDefects(config, []);
  await rig?.close();
});

void test('detection, short: ack_before_commit FAILs db_failure_peak_load with lost payments; the correct system PASSes it', async () => {
  const overrides = [...shortScenarios.db_failure_peak_load!, 'ledger.messages=3000', 'load.rate=100'];
  const bad = await runCell({ ordeal, config, system: 'ack_before_commit', scenario: 'db_failure_peak_load', loadTaskQueue, overrides });
  assert.equal(bad.ok, true, `${bad.verdict} ${bad.classes.join(',')}: ${bad.reasons.join('\n')}`);
  const good = await runCell({ ordeal, config, system: 'correct', scenario: 'db_failure_peak_load', loadTaskQueue, overrides });
  assert.equal(good.ok, true, `${good.verdict}: ${good.reasons.join('\n')}`);
  console.log(`ack_before_commit: ${bad.verdict} ${bad.classes.join(',')} in ${bad.seconds} s; correct: ${good.verdict} in ${good.seconds} s`);
});
