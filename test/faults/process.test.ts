import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { faultEvidence, injectFault, revertFault } from '../../activities/faults/index.ts';
import { assertNoFaultLeft, pgThroughProxy, redisThroughProxy, servicesUp } from './helpers.ts';

let upBefore: Set<string>;
before(async () => { upBefore = await servicesUp(); });
after(async () => { await assertNoFaultLeft(upBefore); });

void test('database_kill on postgres: pid gone and unreachable, revert restarts it, second revert is a no-op', async () => {
  assert.equal(await pgThroughProxy(), 'ok', 'postgres healthy before the fault');
  const handle = await injectFault({ runId: 'test-process', spec: { type: 'database_kill', target: 'postgres', at: 0, duration: '30s' }, leaseMs: 120_000 });
  assert.equal(handle.backend, 'process');
  assert.deepEqual(JSON.parse(JSON.stringify(handle)), handle, 'the handle is plain data');

  const evidence = await faultEvidence(handle);
  assert.ok(evidence.length >= 2 && evidence.every((e) => e.ok), JSON.stringify(evidence));
  assert.match(evidence[0]!.description, /pid \d+ gone/);
  assert.notEqual(await pgThroughProxy(), 'ok', 'postgres unreachable through its proxy while killed');

  const first = await revertFault(handle);
  assert.equal(first.reverted, true);
  assert.equal(first.alreadyReverted, false);
  assert.match(first.detail ?? '', /restarted postgres/);
  assert.equal(await pgThroughProxy(), 'ok', 'postgres answers again once revert returns');
  assert.ok((await faultEvidence(handle)).every((e) => !e.ok), 'evidence no longer shows the fault');

  const second = await revertFault(handle);
  assert.deepEqual([second.reverted, second.alreadyReverted], [true, true]);
});

void test('process_pause on redis: SIGSTOP is a gray failure, SIGCONT heals it', async () => {
  const handle = await injectFault({ runId: 'test-process', spec: { type: 'process_pause', target: 'redis', at: 0, duration: '10s' }, leaseMs: 120_000 });
  const evidence = await faultEvidence(handle);
  assert.ok(evidence[0]?.ok, JSON.stringify(evidence));
  assert.match(evidence[0]!.description, /state T \(stopped\)/);
  const during = await redisThroughProxy(800);
  assert.notEqual(during.result, 'ok', 'a paused redis accepts (via the proxy) but never answers');

  const r = await revertFault(handle);
  assert.deepEqual([r.reverted, r.alreadyReverted], [true, false]);
  assert.equal((await redisThroughProxy()).result, 'ok');
  assert.equal((await revertFault(handle)).alreadyReverted, true);
});

void test('service_kill with restart: false leaves the target down on revert (a non-restarted outage)', async () => {
  const handle = await injectFault({ runId: 'test-process', spec: { type: 'service_kill', target: 'redis', at: 0, duration: '5s', restart: false }, leaseMs: 120_000 });
  const r = await revertFault(handle);
  assert.match(r.detail ?? '', /left down/);
  assert.notEqual((await redisThroughProxy(500)).result, 'ok');
  // Bring it back the way an operator would, so the stack ends as healthy as it began.
  const { up } = await import('../../scripts/stack/supervisor.ts');
  const { stackServices } = await import('../../scripts/stack/services/index.ts');
  const { config } = await import('./helpers.ts');
  await up({ config, services: stackServices, only: ['redis'] });
  assert.equal((await redisThroughProxy()).result, 'ok');
});

void test('service_kill works on services other engineers added (stripe-emulator): restarted through the supervisor', async (t) => {
  if (!upBefore.has('stripe-emulator')) return t.skip('stripe-emulator is not part of this stack');
  const { request } = await import('undici');
  const { config } = await import('./helpers.ts');
  const health = async () => {
    try {
      const res = await request(`http://127.0.0.1:${config.ports.stripe_emulator}/health`, { headersTimeout: 1000 });
      await res.body.text();
      return res.statusCode;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code;
    }
  };
  const handle = await injectFault({ runId: 'test-process', spec: { type: 'service_kill', target: 'stripe-emulator', at: 0, duration: '5s' }, leaseMs: 120_000 });
  const evidence = await faultEvidence(handle);
  assert.ok(evidence.every((e) => e.ok), JSON.stringify(evidence));
  assert.equal(await health(), 'ECONNREFUSED');
  const r = await revertFault(handle);
  assert.match(r.detail ?? '', /restarted stripe-emulator/);
  assert.equal(await health(), 200);
});

void test('concurrent reverts of one kill (worker, watchdog, panic at once) restart the service exactly once', async () => {
  const handle = await injectFault({ runId: 'test-process', spec: { type: 'service_kill', target: 'redis', at: 0, duration: '5s' }, leaseMs: 120_000 });
  const results = await Promise.all([revertFault(handle, 'worker'), revertFault(handle, 'watchdog'), revertFault(handle, 'panic')]);
  assert.equal(results.filter((r) => !r.alreadyReverted).length, 1, JSON.stringify(results));
  assert.ok(results.every((r) => r.reverted));
  assert.equal((await redisThroughProxy()).result, 'ok');
});
