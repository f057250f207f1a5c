// Leak detection on a soak's RSS samples (workflows/leak.ts, pure): steady growth
// across cycles is a leak; a garbage collector's sawtooth is not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { detectLeaks } from '../../workflows/leak.ts';

const MB = 1024 * 1024;
const series = (ys: number[]) => ys.map((y) => ({ rss_bytes: { api: y * MB } }));

void test('leak detection: steady growth is a leak; a sawtooth, flat memory or few samples are not', () => {
  const leak = detectLeaks(series([200, 240, 290, 330, 370, 420]));
  assert.equal(leak.length, 1);
  assert.equal(leak[0]!.service, 'api');
  assert.equal(leak[0]!.growth_bytes, 220 * MB);
  assert.ok(leak[0]!.slope_bytes_per_cycle > 40 * MB);
  assert.deepEqual(detectLeaks(series([200, 260, 210, 270, 205, 265])), [], 'sawtooth (GC)');
  assert.deepEqual(detectLeaks(series([200, 201, 200, 202, 201, 203])), [], 'flat');
  assert.deepEqual(detectLeaks(series([200, 400, 600])), [], 'too few samples');
});
