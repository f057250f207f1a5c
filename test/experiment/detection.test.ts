// The detection matrix, short: through the real workflow on the test stack, a seeded
// defect is caught by its class and the correct system passes the same scenario (the
// full matrix is `npm run bench:detection`). The matrix's own rule is tested on its own.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { defectCells, judgeCell, runCell, shortScenarios, switchDefects } from '../../bench/detection-matrix.ts';
import type { OrdealClient } from '../../scripts/client/index.ts';
import { defectCatalog } from '../../systems/defects.ts';
import type { RunningWorkers } from '../../workers/index.ts';
import { client, config, inProcessWorkers } from './harness.ts';

let ordeal: OrdealClient;
let workers: RunningWorkers;
let loadTaskQueue: string;

before(async () => {
  const w = await inProcessWorkers('test-detection');
  workers = w.workers;
  loadTaskQueue = w.loadTaskQueue;
  ordeal = await client(w.taskQueue);
});
after(async () => {
  await switchDefects(config, []);
  workers?.shutdown();
  await workers?.done;
  await ordeal?.close();
});

void test('the matrix rule: a defect needs FAIL with its class, the correct system PASS (stress: no failing class)', () => {
  assert.equal(judgeCell('ack_before_commit', 'db_failure_peak_load', 'FAIL', ['lost@postgres', 'lost@stripe'], 'lost'), true);
  assert.equal(judgeCell('ack_before_commit', 'db_failure_peak_load', 'FAIL', [], 'lost'), false, 'a threshold FAIL is not detection');
  assert.equal(judgeCell('ack_before_commit', 'db_failure_peak_load', 'FAIL', ['duplicated@kafka'], 'lost'), false, 'the wrong class is not detection');
  assert.equal(judgeCell('correct', 'db_failure_peak_load', 'PASS', []), true);
  assert.equal(judgeCell('correct', 'db_failure_peak_load', 'FAIL', []), false);
  assert.equal(judgeCell('correct', 'stress', 'FAIL', []), true, 'stress breaks its thresholds at the knee by design');
  assert.equal(judgeCell('correct', 'stress', 'FAIL', ['lost@postgres']), false);
  assert.equal(judgeCell('correct', 'stress', 'ERROR', []), false);
  // Every defect has a cell, and every cell's scenario has a shortened timeline.
  assert.deepEqual(defectCells.map((d) => d.defect).sort(), Object.keys(defectCatalog).sort());
  for (const d of defectCells) assert.ok(shortScenarios[d.scenario], d.scenario);
});

void test('detection, short: ack_before_commit FAILs db_failure_peak_load with lost payments; the correct system PASSes it', async () => {
  const overrides = [...shortScenarios.db_failure_peak_load!, 'ledger.messages=2000', 'load.rate=100'];
  const bad = await runCell({ ordeal, config, system: 'ack_before_commit', scenario: 'db_failure_peak_load', loadTaskQueue, overrides });
  assert.equal(bad.ok, true, `${bad.verdict} ${bad.classes.join(',')}: ${bad.reasons.join('\n')}`);
  const good = await runCell({ ordeal, config, system: 'correct', scenario: 'db_failure_peak_load', loadTaskQueue, overrides });
  assert.equal(good.ok, true, `${good.verdict}: ${good.reasons.join('\n')}`);
  console.log(`ack_before_commit: ${bad.verdict} ${bad.classes.join(',')} in ${bad.seconds} s; correct: ${good.verdict} in ${good.seconds} s`);
});
