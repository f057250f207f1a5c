// Crash safety: the worker process running the experiment (orchestrator and load
// worker both) is SIGKILLed while the database kill is active. A new worker picks the
// run up: the fault is reverted by the workflow (not left to the watchdog), the load
// shard resumes from its heartbeat, and the verdict is right. And the load worker
// SIGKILLed before the fault is due: the fault waits until the shard resumes, so it is
// injected under load.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { OrdealClient } from '../../scripts/client/index.ts';
import { client, leasesOf, outcomeRows, paymentApiReady, recordHistory, shortDbKill, uniqueQueue, until, untilFaultActive, workerProcess } from './harness.ts';

const taskQueue = uniqueQueue('test-crash');
const loadTaskQueue = `${taskQueue}-load`;
let ordeal: OrdealClient;
const kills: (() => Promise<void>)[] = [];

before(async () => {
  ordeal = await client(taskQueue);
});
after(async () => {
  for (const k of kills) await k();
  await ordeal?.close();
});

void test('worker SIGKILLed during the active fault, restarted: right verdict, fault reverted, nothing sent twice', async () => {
  const first = await workerProcess(taskQueue, [loadTaskQueue]);
  kills.push(() => first.kill('SIGKILL'));
  const h = await ordeal.start({
    scenario: 'db_failure_peak_load', loadTaskQueue,
    overrides: [...shortDbKill, 'load.duration=20s', 'ledger.messages=2000', 'faults.0.at=4s', 'faults.0.duration=8s'],
  });
  await untilFaultActive(h);
  await first.kill('SIGKILL');
  assert.equal(await paymentApiReady(), false, 'the fault outlives the worker');
  const second = await workerProcess(taskQueue, [loadTaskQueue]);
  kills.push(() => second.kill('SIGTERM'));
  const r = await h.result();
  if (r.verdict === 'PASS') await recordHistory(ordeal, h.workflowId, 'crash-resumed');
  assert.equal(r.verdict, 'PASS', r.reasons.join('\n'));
  const rep = r.report;
  // The revert ran on the new worker, from the handle in the workflow's history.
  assert.equal(rep.faults[0]!.revert?.reverted, true);
  assert.deepEqual((await leasesOf(r.run_id)).map((l) => [l.state, l.reverted_by]), [['reverted', 'worker']]);
  // The shard resumed on the second worker from its heartbeat: every entry sent once
  // (sent counts an entry when its first request goes out), one outcome each.
  assert.ok(rep.load!.workers.length >= 2, `load ran on ${rep.load!.workers.join(', ')}`);
  assert.equal(rep.load!.counts.sent, 2000);
  assert.equal(rep.load!.counts.acked + rep.load!.counts.failed + rep.load!.counts.unknown, 2000);
  assert.deepEqual(await outcomeRows(r.run_id), { rows: 2000, distinct: 2000 });
  for (const s of rep.reconcile!.sources) {
    for (const c of ['lost', 'duplicated', 'ghost', 'mismatched', 'missing'] as const) assert.equal(s.classes[c].count, 0, `${s.source} ${c}`);
  }
  await until('the payment API to be ready', paymentApiReady, 30_000);
});

void test('load worker SIGKILLed before the fault is due: the fault waits until the shard resumes elsewhere, then goes in under load', async () => {
  // Queues of its own: the first test's worker must not pick this shard up.
  const q = uniqueQueue('test-crash-load'), lq = `${q}-load`;
  const c = await client(q);
  kills.push(() => c.close());
  const orchestrator = await workerProcess(q, [lq, 'orchestrator']);
  kills.push(() => orchestrator.kill('SIGTERM'));
  const load = await workerProcess(q, [lq, 'load']);
  kills.push(() => load.kill('SIGKILL'));
  const h = await c.start({
    scenario: 'db_failure_peak_load', loadTaskQueue: lq,
    overrides: [...shortDbKill, 'load.duration=15s', 'ledger.messages=1500', 'faults.0.at=5s', 'faults.0.duration=3s'],
  });
  await until('load to flow', async () => (await h.status()).sent > 50 || null, 30_000, 100);
  await load.kill('SIGKILL');
  const second = await workerProcess(q, [lq, 'load']);
  kills.push(() => second.kill('SIGTERM'));
  const r = await h.result();
  const rep = r.report;
  const gap = rep.load!.harness_gaps?.[0];
  assert.ok(gap, `a harness gap is reported: ${rep.reasons.join('; ')}`);
  const f = rep.faults[0]!;
  // Planned at 5 s, inside the gap: injected only once the shard resumed (the gap's end
  // includes a short settling time after resumption).
  assert.ok(f.injectedAtS >= gap.to_s - 3, `fault injected at ${f.injectedAtS} s, the gap ${gap.from_s}-${gap.to_s} s`);
  assert.ok(r.reasons.some((n) => /waited .* for load shard 1 to resume/.test(n)), r.reasons.join('\n'));
  // Load was sent while the database was down: the seconds of the fault have requests.
  const during = rep.load!.timeline.filter((t) => t.t >= Math.floor(f.injectedAtS) && t.t < Math.ceil(f.revertedAtS!));
  assert.ok(during.reduce((a, t) => a + t.sent, 0) > 0, 'requests were sent during the fault');
  assert.deepEqual((await leasesOf(r.run_id)).map((l) => l.state), ['reverted']);
  assert.equal(r.verdict, 'PASS', r.reasons.join('\n'));
  await until('the payment API to be ready', paymentApiReady, 30_000);
});
