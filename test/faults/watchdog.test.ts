import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import {
  faultEvidence, faultStore, injectFault, isPanicked, revertFault, type FaultHandle,
} from '../../activities/faults/index.ts';
import { assertNoFaultLeft, config, eventually, ordeal, pgThroughProxy, redisThroughProxy, servicesUp, toxiproxy } from './helpers.ts';

let upBefore: Set<string>;
before(async () => {
  upBefore = await servicesUp();
  assert.ok(upBefore.has('watchdog'), 'the stack runs its fault watchdog');
});
after(async () => {
  if (await isPanicked()) ordeal('panic', '--clear');
  await assertNoFaultLeft(upBefore);
});

function injectFromAnotherProcess(...args: string[]): FaultHandle {
  const res = ordeal('faults', 'inject', ...args, '--run-id', 'test-watchdog');
  assert.equal(res.code, 0, res.stderr);
  return JSON.parse(res.stdout.trim().split('\n').pop()!) as FaultHandle;
}

void test('leases: with no worker left, the watchdog heals a killed redis and a latency toxic on postgres', async () => {
  // The injecting process exits at once: nobody but the watchdog will ever revert these.
  // Leases long enough to observe each fault before the watchdog heals it (a CLI run takes ~1 s).
  const kill = injectFromAnotherProcess('service_kill', 'redis', '--lease', '6s');
  const killEvidence = await faultEvidence(kill);
  assert.ok(killEvidence.every((e) => e.ok), `redis is down after the kill: ${JSON.stringify(killEvidence)}`);
  const latency = injectFromAnotherProcess('network_latency', 'postgres', '--param', 'latency_ms=200', '--lease', '4s');
  assert.ok((await faultEvidence(latency))[0]?.ok, 'the toxic is on the postgres proxy');
  const lease = await faultStore().get(kill.faultId);
  assert.equal(lease?.state, 'active', 'the lease was recorded in ordeal-db');

  for (const h of [kill, latency]) {
    const healed = await eventually(`the watchdog to revert ${h.faultId}`, async () => {
      const row = await faultStore().get(h.faultId);
      return row?.state === 'reverted' ? row : undefined;
    }, 30_000);
    assert.equal(healed.revertedBy, 'watchdog');
    assert.ok(healed.revertedAt!.getTime() >= new Date(h.leaseExpiresAt).getTime(), 'not reverted before its lease ran out');
  }
  assert.equal((await redisThroughProxy()).result, 'ok', 'redis restarted by the watchdog');
  assert.deepEqual((await toxiproxy.proxy('postgres')).toxics, []);

  // A worker coming back late reverts the same handles: both already healed.
  for (const h of [kill, latency]) {
    const r = await revertFault(h);
    assert.deepEqual([r.reverted, r.alreadyReverted], [true, true]);
  }
  const res = await request(`http://127.0.0.1:${config.ports.watchdog}/metrics`);
  const metrics = await res.body.text();
  assert.match(metrics, /ordeal_watchdog_reverts_total\{result="reverted",backend="process",type="service_kill"\} [1-9]/);
  assert.match(metrics, /ordeal_watchdog_open_faults 0/);
});

void test('the watchdog leaves faults whose lease has not expired alone', async () => {
  const handle = await injectFault({ runId: 'test-watchdog', spec: { type: 'network_partition', target: 'redis', at: 0, duration: '1m' }, leaseMs: 60_000 });
  try {
    await new Promise((r) => setTimeout(r, 2500)); // more than two sweeps
    assert.equal((await faultStore().get(handle.faultId))?.state, 'active');
    assert.ok((await faultEvidence(handle))[0]?.ok);
  } finally {
    await revertFault(handle);
  }
});

void test('ordeal panic reverts every active fault and blocks new injections until --clear', async () => {
  const pause = await injectFault({ runId: 'test-panic', spec: { type: 'process_pause', target: 'redis', at: 0, duration: '1m' }, leaseMs: 300_000 });
  const partition = await injectFault({ runId: 'test-panic', spec: { type: 'network_partition', target: 'postgres', at: 0, duration: '1m' }, leaseMs: 300_000 });
  assert.equal(await pgThroughProxy(), 'ECONNREFUSED');

  const res = ordeal('panic', '--reason', 'test panic');
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stdout, /2 active fault\(s\)/);
  assert.match(res.stdout, new RegExp(`${pause.faultId}.*reverted`));
  assert.match(res.stdout, new RegExp(`${partition.faultId}.*reverted`));
  assert.equal((await redisThroughProxy()).result, 'ok');
  assert.equal(await pgThroughProxy(), 'ok');
  assert.equal((await faultStore().get(pause.faultId))?.revertedBy, 'panic');

  assert.equal(await isPanicked(), true);
  await assert.rejects(
    injectFault({ runId: 'test-panic', spec: { type: 'network_latency', target: 'redis', at: 0, duration: '1m' }, leaseMs: 60_000 }),
    (err: Error & { nonRetryable?: boolean }) => {
      assert.match(err.message, /panic is active .*test panic.*ordeal panic --clear/);
      assert.equal(err.nonRetryable, true);
      return true;
    },
  );
  assert.deepEqual((await toxiproxy.proxy('redis')).toxics, [], 'the refused injection touched nothing');
  assert.match(ordeal('panic', '--status').stdout, /panic ACTIVE/);

  // Reverting after the panic healed them is a no-op, as for the watchdog.
  assert.equal((await revertFault(pause)).alreadyReverted, true);

  assert.equal(ordeal('panic', '--clear').code, 0);
  assert.equal(await isPanicked(), false);
  const again = await injectFault({ runId: 'test-panic', spec: { type: 'network_latency', target: 'redis', at: 0, duration: '1m' }, leaseMs: 60_000 });
  assert.ok((await faultEvidence(again))[0]?.ok);
  await revertFault(again);
});
