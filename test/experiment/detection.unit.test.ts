// The detection matrix's rule and plan (pure; the runs: detection.test.ts, bench:detection).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defectCells, judgeCell, shortScenarios } from '../../bench/detection-matrix.ts';
import { defectCatalog } from '../../systems/defects.ts';

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
