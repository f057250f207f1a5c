// Injection under Temporal's retry semantics, and the hogs' own deadline (the third
// safety layer, for when even the watchdog is gone).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { faultActivities, faultStore, revertFault, type FaultHandle, type InjectFaultInput, type RevertResult } from '../../activities/faults/index.ts';
import { assertNoFaultLeft, servicesUp, toxiproxy } from './helpers.ts';

let upBefore: Set<string>;

type Info = ConstructorParameters<typeof MockActivityEnvironment>[0];
const injectAs = (info: Info, input: InjectFaultInput) => new MockActivityEnvironment(info).run(() => faultActivities.injectFault(input)) as Promise<FaultHandle>;
const revertAs = (info: Info, h: FaultHandle) => new MockActivityEnvironment(info).run(() => faultActivities.revertFault(h)) as Promise<RevertResult>;
before(async () => { upBefore = await servicesUp(); });
after(async () => { await assertNoFaultLeft(upBefore); });

void test('a retried injectFault activity (same workflow run and activity id) returns the first handle instead of injecting twice', async () => {
  // Temporal's activity context, as a retry after a worker crash would see it.
  const info = { activityId: '7', workflowExecution: { workflowId: 'ordeal-test-retry', runId: `run-${Date.now()}` } };
  const input = { runId: 'test-retry', spec: { type: 'network_latency' as const, target: 'redis', at: 0, duration: '10s', params: { latency_ms: 50 } }, leaseMs: 60_000 };
  const first = await injectAs(info, input);
  const second = await injectAs({ ...info, attempt: 2 }, input);
  assert.deepEqual(second, first);
  assert.equal((await toxiproxy.proxy('redis')).toxics.length, 1, 'one toxic, not two');

  // A different activity of the same run is a different fault.
  const other = await injectAs({ ...info, activityId: '8' },
    { ...input, spec: { ...input.spec, type: 'network_partition' as const, params: {} } });
  assert.notEqual(other.faultId, first.faultId);
  for (const h of [other, first]) assert.equal((await revertAs(info, h)).reverted, true);
  assert.equal((await faultStore().get(first.faultId))?.revertedBy, 'worker');
});

void test('an attempt that died half-way (lease still "injecting") is undone before the retry injects again', async () => {
  const info = { activityId: '9', workflowExecution: { workflowId: 'ordeal-test-retry', runId: `run-half-${Date.now()}` } };
  const input = { runId: 'test-retry', spec: { type: 'network_latency' as const, target: 'postgres', at: 0, duration: '10s', params: { latency_ms: 50 } }, leaseMs: 60_000 };
  const handle = await injectAs(info, input);
  // Make it look as if the worker died after applying the toxic but before recording it active.
  await faultStore().pool.query("UPDATE ordeal_fault_leases SET state = 'injecting' WHERE fault_id = $1", [handle.faultId]);
  const again = await injectAs({ ...info, attempt: 2 }, input);
  assert.equal(again.faultId, handle.faultId);
  assert.equal((await toxiproxy.proxy('postgres')).toxics.length, 1, 'the half-done attempt was reverted, then injected once');
  // The system was disturbed from the first attempt on: the fault's window (and its hold)
  // count from then, or the seconds in between are judged as steady state.
  assert.equal(again.injectedAt, handle.injectedAt);
  assert.ok(Date.parse(again.leaseExpiresAt) > Date.parse(handle.leaseExpiresAt), 'the lease is renewed from the retry');
  await revertFault(again);
});

void test('inject, evidence and revert heartbeat while they run, so a dead worker\'s call is retried within the heartbeat timeout', async () => {
  const info = { activityId: '10', workflowExecution: { workflowId: 'ordeal-test-beat', runId: `run-beat-${Date.now()}` } };
  const input = { runId: 'test-beat', spec: { type: 'network_latency' as const, target: 'redis', at: 0, duration: '10s', params: { latency_ms: 50 } }, leaseMs: 60_000 };
  const beats = async <T>(work: () => Promise<T>): Promise<[T, number]> => {
    const env = new MockActivityEnvironment(info);
    let n = 0;
    env.on('heartbeat', () => { n++; });
    return [await env.run(work) as T, n];
  };
  const [handle, injectBeats] = await beats(() => faultActivities.injectFault(input));
  const [, evidenceBeats] = await beats(() => faultActivities.faultEvidence(handle));
  const [reverted, revertBeats] = await beats(() => faultActivities.revertFault(handle));
  assert.equal(reverted.reverted, true);
  assert.deepEqual({ injectBeats: injectBeats > 0, evidenceBeats: evidenceBeats > 0, revertBeats: revertBeats > 0 },
    { injectBeats: true, evidenceBeats: true, revertBeats: true });
});

void test('a hog ends itself at its deadline even if nobody reverts it', async () => {
  const hog = join(dirname(fileURLToPath(import.meta.url)), '../../activities/faults/host/hog.ts');
  const child = spawn(process.execPath, [hog, 'ordeal-fault-hog', 'test-deadline', 'cpu', '1', String(Date.now() + 800)], { stdio: 'ignore' });
  const t0 = Date.now();
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  const ms = Date.now() - t0;
  assert.equal(code, 0);
  assert.ok(ms >= 500 && ms < 10_000, `hog exited after ${ms} ms`);
});
