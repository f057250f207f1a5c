// An invalid fault is refused before anything is touched: no lease written, no toxic
// added (needs the stack). What validation says of each fault: validation.unit.test.ts.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { closeFaults, faultStore, injectFault } from '../../activities/faults/index.ts';
import { toxiproxy } from './helpers.ts';

after(closeFaults);

void test('an invalid fault is refused by injectFault before anything is touched (non-retryable)', async () => {
  const before = (await faultStore().open()).length;
  for (const spec of [{ type: 'network_latency', target: 'nowhere', at: 0, duration: '1s' }, { type: 'service_kill', target: 'temporal', at: 0, duration: '1s' }]) {
    await assert.rejects(injectFault({ runId: 'test-validation', spec: spec as never, leaseMs: 10_000 }), (err: Error & { nonRetryable?: boolean }) => {
      assert.equal(err.nonRetryable, true);
      assert.match(err.message, /invalid fault/);
      return true;
    });
  }
  await assert.rejects(injectFault({ runId: 'test-validation', spec: { type: 'network_latency', target: 'redis', at: 0, duration: '1s' }, leaseMs: -1 }), /leaseMs must be/);
  assert.equal((await faultStore().open()).length, before, 'no lease was written');
  for (const p of Object.values(await toxiproxy.proxies())) assert.deepEqual([p.enabled, p.toxics], [true, []]);
});
