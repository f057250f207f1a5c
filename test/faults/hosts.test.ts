// Faults on other machines, rehearsed on this one: two fault workers under two host
// names (`ordeal worker --faults --host alpha|beta`, each a process of its own), each
// serving its task queue and guarding its own leases. A service declared with
// `host: beta` is faulted by beta's worker only; when that worker dies with the fault
// in effect, neither alpha's watchdog nor the stack's touch it, and beta's watchdog
// reverts it as soon as beta's worker is back.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import {
  closeFaults, faultStore, injectFault, listOpenFaults, revertFault, type FaultHandle
} from '../../activities/faults/index.ts';
import type { SystemFile } from '../../activities/system/index.ts';
import { findService } from '../../activities/faults/process/index.ts';
import { loadStackConfig } from '../../scripts/stack/config.ts';
import { causeChain, faultWorker, routedFaults, type FaultWorker, type RoutedFaults } from './fault-workers.ts';
import { eventually, leaseReverted } from './helpers.ts';

const config = loadStackConfig();
const dir = join(config.home, 'hosts-test');
const svc = (name: string, host: string) => ({
  kind: 'process' as const, host,
  pid_file: join(dir, `${name}.pid`),
  // A user's service in miniature: writes its pid file, then becomes the long-running process.
  start: `echo $$ > ${join(dir, `${name}.pid`)}; exec sleep 3600`,
});
const system: SystemFile = { name: 'two-hosts', services: { 'svc-a': svc('svc-a', 'alpha'), 'svc-b': svc('svc-b', 'beta') }, proxies: {} };

async function startSvc(name: 'svc-a' | 'svc-b'): Promise<number> {
  const decl = system.services[name]! as ReturnType<typeof svc>;
  spawn('/bin/sh', ['-c', decl.start], { detached: true, stdio: 'ignore' }).unref();
  return (await eventually(`${name} running`, async () => findService(name, decl))).pid;
}

let alpha: FaultWorker;
let beta: FaultWorker;
let routed: RoutedFaults;

before(async () => {
  mkdirSync(dir, { recursive: true });
  await Promise.all([startSvc('svc-a'), startSvc('svc-b')]);
  [alpha, beta] = await Promise.all([faultWorker('alpha'), faultWorker('beta')]);
  routed = await routedFaults(`hosts-test-${process.pid}`);
});

after(async () => {
  await routed.close();
  const open = (await listOpenFaults()).filter((l) => l.runId.startsWith('hosts-'));
  await alpha.kill();
  await beta.kill();
  for (const name of ['svc-a', 'svc-b'] as const) {
    const p = findService(name, system.services[name]! as ReturnType<typeof svc>);
    if (p) process.kill(p.pid, 'SIGKILL');
  }
  await closeFaults();
  assert.deepEqual(open.map((l) => `${l.faultId} on ${l.host}`), [], 'no fault of this test left open');
});

const inject = (runId: string, target: string, o: { leaseMs?: number; queue?: string } = {}) =>
  routed.inject(runId, { type: 'service_kill', target, at: 0, duration: '10s' }, system, o);
const revert = (handle: FaultHandle) => routed.revert(handle);

void test('each host\'s fault worker faults its own services, on its own queue, and refuses the other host\'s', async () => {
  const before = findService('svc-a', system.services['svc-a']! as ReturnType<typeof svc>)!;
  const { handle, evidence, queue } = await inject('hosts-route', 'svc-a');
  assert.equal(queue, 'ordeal-faults-alpha');
  assert.equal(handle.host, 'alpha');
  assert.ok(evidence[0]?.ok, JSON.stringify(evidence));
  assert.equal((await faultStore().get(handle.faultId))?.host, 'alpha', 'the lease records the host');
  assert.equal(findService('svc-a', system.services['svc-a']! as ReturnType<typeof svc>), undefined, 'svc-a killed');
  const r = await revert(handle);
  assert.deepEqual([r.reverted, r.alreadyReverted], [true, false]);
  const now = findService('svc-a', system.services['svc-a']! as ReturnType<typeof svc>);
  assert.ok(now && now.pid !== before.pid, `svc-a restarted by alpha's worker: ${r.detail}`);

  // beta's service sent to alpha's queue: alpha refuses, nothing is touched.
  const bBefore = findService('svc-b', system.services['svc-b']! as ReturnType<typeof svc>)!;
  await assert.rejects(inject('hosts-route', 'svc-b', { queue: 'ordeal-faults-alpha' }), (err: unknown) => {
    assert.ok(err instanceof WorkflowFailedError);
    assert.match(causeChain(err), /belongs to fault host "beta", and this fault worker serves host "alpha"/);
    return true;
  });
  assert.equal(findService('svc-b', system.services['svc-b']! as ReturnType<typeof svc>)?.pid, bBefore.pid, 'svc-b untouched');
  // Nor may this process (the local host) inject or revert them.
  await assert.rejects(injectFault({ runId: 'hosts-route', spec: { type: 'service_kill', target: 'svc-a', at: 0, duration: '1s' }, leaseMs: 1000, system }),
    /belongs to fault host "alpha", and this fault worker serves host "local"/);
  await assert.rejects(revertFault(handle), /belongs to fault host "alpha"/);
});

void test('a lease on beta whose worker was SIGKILLed is left alone by alpha and the stack, and reverted by beta\'s watchdog when beta is back', async () => {
  const decl = system.services['svc-b']! as ReturnType<typeof svc>;
  const { handle } = await inject('hosts-lease', 'svc-b', { leaseMs: 1500 });
  assert.equal(handle.host, 'beta');
  await beta.kill();
  // Well past the lease: alpha's watchdog (every 300 ms) and the stack's (every second) sweep, and must not touch it.
  await new Promise((r) => setTimeout(r, 3500));
  const lease = await faultStore().get(handle.faultId);
  assert.equal(lease?.state, 'active', 'no other host reverted beta\'s fault');
  assert.equal(findService('svc-b', decl), undefined, 'svc-b still down while beta has no worker');

  beta = await faultWorker('beta');
  const done = await leaseReverted(handle.faultId, 'beta\'s watchdog reverts the lease', 30_000);
  assert.equal(done.revertedBy, 'watchdog@beta');
  assert.ok(findService('svc-b', decl), 'svc-b restarted on beta');
});

void test('under ordeal panic a host\'s watchdog reverts its open faults before their lease ends (the CLI cannot reach that machine)', async () => {
  const decl = system.services['svc-a']! as ReturnType<typeof svc>;
  const { handle } = await inject('hosts-panic', 'svc-a', { leaseMs: 600_000 });
  await faultStore().setPanic(true, 'hosts test');
  try {
    const done = await leaseReverted(handle.faultId, 'alpha\'s watchdog reverts the fault under panic', 30_000);
    assert.equal(done.revertedBy, 'watchdog@alpha');
    assert.ok(done.revertedAt!.getTime() < new Date(handle.leaseExpiresAt).getTime(), 'long before its lease ran out');
    assert.ok(findService('svc-a', decl), 'svc-a restarted on alpha');
  } finally {
    await faultStore().setPanic(false, null);
  }
});
