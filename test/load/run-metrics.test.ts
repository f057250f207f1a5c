// The load worker's Prometheus series carry scenario and run_id, and a finished
// run's series go away (after a linger, so the last scrape sees the final values).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadRegistry } from '../../activities/load/index.ts';
import { shardMetrics } from '../../activities/load/metrics.ts';

const series = async (runId: string) => (await loadRegistry.metrics()).split('\n').filter((l) => l.includes(`run_id="${runId}"`));

void test('series are labelled by scenario and run; in-flight sums the run\'s shards; released runs are dropped', async () => {
  const a = shardMetrics('scn', 'run-a', 0);
  const a2 = shardMetrics('scn', 'run-a', 0);
  const b = shardMetrics('other', 'run-b', 80);
  a.request('ok', 0.004, false);
  a2.request('ok', 0.2, true);
  a.request('timeout', 5, false);
  a.dropped('not_sent');
  a.inFlight(3);
  a2.inFlight(4);
  a.outcomesWritten(2);
  b.request('ok', 0.01, false);
  const text = await loadRegistry.metrics();
  assert.match(text, /ordeal_load_requests_total\{scenario="scn",run_id="run-a",class="ok"\} 2/);
  assert.match(text, /ordeal_load_requests_total\{scenario="scn",run_id="run-a",class="timeout"\} 1/);
  assert.match(text, /ordeal_load_dropped_total\{scenario="scn",run_id="run-a",reason="not_sent"\} 1/);
  assert.match(text, /ordeal_load_late_total\{scenario="scn",run_id="run-a"\} 1/);
  assert.match(text, /ordeal_load_in_flight\{scenario="scn",run_id="run-a"\} 7/);
  assert.match(text, /ordeal_load_latency_seconds_count\{scenario="scn",run_id="run-a"\} 3/);
  assert.match(text, /ordeal_load_outcomes_written_total\{scenario="scn",run_id="run-a"\} 2/);
  assert.match(text, /ordeal_load_requests_total\{scenario="other",run_id="run-b",class="ok"\} 1/);

  // One shard of run-a ends: the run still runs here, its series stay.
  a.release();
  a.release(); // twice is once
  assert.ok((await series('run-a')).length > 0);
  assert.match((await series('run-a')).join('\n'), /ordeal_load_in_flight\{[^}]*\} 4/);
  a2.release();
  assert.deepEqual(await series('run-a'), [], 'run-a\'s series are gone once its last shard ended (no linger)');

  // run-b lingers for its scrape window, then goes; a new shard of it in the meantime keeps it.
  b.release();
  assert.ok((await series('run-b')).length > 0, 'kept during the linger');
  const t0 = Date.now();
  while ((await series('run-b')).length > 0 && Date.now() - t0 < 5000) await sleep(20);
  assert.deepEqual(await series('run-b'), []);
  assert.match(await loadRegistry.metrics(), /ordeal_load_runs_tracked 0/);
});
