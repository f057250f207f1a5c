import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { faultEvidence, injectFault, revertFault, type FaultSpecInput } from '../../activities/faults/index.ts';
import { assertNoFaultLeft, ordeal, pgThroughProxy, redisThroughProxy, servicesUp, toxiproxy, withRedis } from './helpers.ts';

let upBefore: Set<string>;
before(async () => { upBefore = await servicesUp(); });
after(async () => { await assertNoFaultLeft(upBefore); });

const inject = (spec: Omit<FaultSpecInput, 'at' | 'duration'>) =>
  injectFault({ runId: 'test-toxiproxy', spec: { at: 0, duration: '30s', ...spec }, leaseMs: 120_000 });

void test('network_partition on postgres: proxy disabled, postgres unreachable through it, revert re-enables', async () => {
  const handle = await inject({ type: 'network_partition', target: 'postgres' });
  assert.equal(handle.backend, 'toxiproxy');
  const evidence = await faultEvidence(handle);
  assert.ok(evidence.every((e) => e.ok), JSON.stringify(evidence));
  assert.equal(await pgThroughProxy(), 'ECONNREFUSED');
  assert.equal((await toxiproxy.proxy('postgres')).enabled, false);

  const r = await revertFault(handle);
  assert.deepEqual([r.reverted, r.alreadyReverted], [true, false]);
  assert.equal(await pgThroughProxy(), 'ok');
  assert.equal((await revertFault(handle)).alreadyReverted, true);
});

void test('network_latency on redis (both directions): every round trip slower; revert removes exactly its toxics', async () => {
  const handle = await inject({ type: 'network_latency', target: 'redis', params: { latency_ms: 300, stream: 'both' } });
  const evidence = await faultEvidence(handle);
  assert.equal(evidence.length, 2);
  assert.ok(evidence.every((e) => e.ok && /latency/.test(e.description)), JSON.stringify(evidence));
  const slow = await redisThroughProxy(3000);
  assert.equal(slow.result, 'ok');
  assert.ok(slow.ms >= 550, `PING through the proxy took ${slow.ms.toFixed(0)} ms, expected >= 2 x 300 ms`);

  await revertFault(handle);
  assert.deepEqual((await toxiproxy.proxy('redis')).toxics, []);
  const fast = await redisThroughProxy();
  assert.ok(fast.ms < 250, `PING after revert took ${fast.ms.toFixed(0)} ms`);
});

void test('network_timeout (blackhole) on redis: connection accepted, nothing comes back', async () => {
  const handle = await inject({ type: 'network_timeout', target: 'redis', params: { timeout_ms: 0 } });
  assert.ok((await faultEvidence(handle))[0]?.ok);
  const during = await redisThroughProxy(700);
  assert.notEqual(during.result, 'ok');
  await revertFault(handle);
  assert.equal((await redisThroughProxy()).result, 'ok');
});

void test('network_reset on postgres: connections reset by peer', async () => {
  const handle = await inject({ type: 'network_reset', target: 'postgres' });
  assert.ok((await faultEvidence(handle))[0]?.ok);
  const during = await pgThroughProxy();
  assert.notEqual(during, 'ok');
  await revertFault(handle);
  assert.equal(await pgThroughProxy(), 'ok');
});

void test('network_bandwidth on redis: a 24 KiB reply at 8 KB/s takes seconds', async () => {
  await withRedis((r) => r.set('ordeal-test-bandwidth', 'x'.repeat(24 * 1024)));
  const handle = await inject({ type: 'network_bandwidth', target: 'redis', params: { rate_kbps: 8 } });
  try {
    assert.ok((await faultEvidence(handle))[0]?.ok);
    const t0 = performance.now();
    const value = await withRedis((r) => r.get('ordeal-test-bandwidth'));
    const ms = performance.now() - t0;
    assert.equal(value?.length, 24 * 1024);
    assert.ok(ms >= 1500, `GET took ${ms.toFixed(0)} ms at 8 KB/s`);
  } finally {
    await revertFault(handle);
    await withRedis((r) => r.del('ordeal-test-bandwidth'));
  }
});

void test('network_slow_close on redis: toxic listed while in effect, gone after revert', async () => {
  const handle = await inject({ type: 'network_slow_close', target: 'redis', params: { delay_ms: 1500 } });
  const evidence = await faultEvidence(handle);
  assert.match(evidence[0]!.description, /slow_close downstream \{"delay":1500\}/);
  await revertFault(handle);
  assert.equal((await faultEvidence(handle))[0]?.ok, false);
});

void test('a handle injected here is reverted by another process (the CLI), then again here idempotently', async () => {
  const handle = await inject({ type: 'network_partition', target: 'redis' });
  assert.notEqual((await redisThroughProxy(500)).result, 'ok');
  const other = ordeal('faults', 'revert', handle.faultId);
  assert.equal(other.code, 0, other.stderr);
  const result = JSON.parse(other.stdout.trim().split('\n').pop()!) as { reverted: boolean; alreadyReverted: boolean };
  assert.deepEqual([result.reverted, result.alreadyReverted], [true, false]);
  assert.equal((await redisThroughProxy()).result, 'ok');
  const here = await revertFault(handle);
  assert.deepEqual([here.reverted, here.alreadyReverted], [true, true]);
  assert.match(here.detail ?? '', /already reverted by cli/);
});

void test('a toxiproxy restart loses the toxics: revert then reports already reverted', async () => {
  const handle = await inject({ type: 'network_latency', target: 'postgres', params: { latency_ms: 100 } });
  // What a restarted toxiproxy looks like to a reverter: the proxy without our toxic.
  await toxiproxy.removeToxic('postgres', String(handle.revert.toxics));
  const r = await revertFault(handle);
  assert.deepEqual([r.reverted, r.alreadyReverted], [true, true]);
});

void test("a handle is revertible even when Ordeal's database is unreachable (the system's health comes first)", async () => {
  const handle = await inject({ type: 'network_partition', target: 'redis' });
  const { createServer } = await import('node:net');
  const deadPort = await new Promise<number>((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
  });
  const { spawnSync } = await import('node:child_process');
  const { config } = await import('./helpers.ts');
  const res = spawnSync('bash', [`${config.root}/scripts/ordeal`, 'faults', 'revert', '--handle', JSON.stringify(handle)],
    { encoding: 'utf8', env: { ...process.env, ORDEAL_PORT_ORDEAL_DB: String(deadPort) } });
  assert.equal(res.status, 0, res.stderr);
  assert.match(res.stdout, /lease not updated: Ordeal's database unreachable/);
  assert.equal((await redisThroughProxy()).result, 'ok');
  // The lease is still open; the next revert (here, or the watchdog's) closes it as already healed.
  const r = await revertFault(handle);
  assert.deepEqual([r.reverted, r.alreadyReverted], [true, true]);
});
