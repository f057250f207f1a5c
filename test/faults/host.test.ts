import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ensureFaultVolume, faultEvidence, injectFault, removeFaultVolume, revertFault } from '../../activities/faults/index.ts';
import { readStat } from '../../process-table/index.ts';
import { assertNoFaultLeft, config, servicesUp } from './helpers.ts';

let upBefore: Set<string>;
before(async () => { upBefore = await servicesUp(); });
after(async () => {
  await assertNoFaultLeft(upBefore);
  removeFaultVolume(config, 'test-spool');
});

void test('disk_full fills the stack-owned tmpfs volume the target writes to; revert frees it', async () => {
  const dir = ensureFaultVolume(config, 'test-spool', 8);
  writeFileSync(join(dir, 'before.txt'), 'x'.repeat(64 * 1024));
  const handle = await injectFault({ runId: 'test-host', spec: { type: 'disk_full', target: 'test-spool', at: 0, duration: '10s', params: { size_mb: 8 } }, leaseMs: 60_000 });
  const evidence = await faultEvidence(handle);
  assert.ok(evidence.every((e) => e.ok), JSON.stringify(evidence));
  assert.throws(() => writeFileSync(join(dir, 'during.txt'), 'x'.repeat(64 * 1024)), { code: 'ENOSPC' });

  const r = await revertFault(handle);
  assert.deepEqual([r.reverted, r.alreadyReverted], [true, false]);
  writeFileSync(join(dir, 'after.txt'), 'x'.repeat(64 * 1024));
  assert.equal((await revertFault(handle)).alreadyReverted, true);
});

void test('memory_pressure holds the asked memory resident in a bounded hog, ended by revert', async () => {
  const handle = await injectFault({ runId: 'test-host', spec: { type: 'memory_pressure', target: 'host', at: 0, duration: '10s', params: { mb: 128 } }, leaseMs: 60_000 });
  const evidence = await faultEvidence(handle);
  assert.ok(evidence[0]?.ok, JSON.stringify(evidence));
  assert.match(evidence[0]!.description, /holds \d+ MB resident \(target 128 MB\)/);
  const pid = Number(handle.revert.pid);
  const r = await revertFault(handle);
  assert.match(r.detail ?? '', new RegExp(`ended memory hog pid ${pid}`));
  // Gone, or at most a zombie waiting for this process to reap it: it holds no memory either way.
  const state = readStat(pid)?.state ?? 'gone';
  assert.ok(state === 'gone' || state === 'Z', `hog pid ${pid} state ${state}`);
  assert.equal((await revertFault(handle)).alreadyReverted, true);
});

void test('cpu_spike burns CPU in a hog process until reverted', async () => {
  const handle = await injectFault({ runId: 'test-host', spec: { type: 'cpu_spike', target: 'host', at: 0, duration: '10s', params: { workers: 2 } }, leaseMs: 60_000 });
  const evidence = await faultEvidence(handle);
  assert.ok(evidence[0]?.ok, JSON.stringify(evidence));
  const r = await revertFault(handle);
  assert.equal(r.alreadyReverted, false);
  assert.equal((await faultEvidence(handle))[0]?.ok, false);
});

void test('disk_full on a volume that does not exist yet mounts it for the fault and removes it on revert', async () => {
  const handle = await injectFault({ runId: 'test-host', spec: { type: 'disk_full', target: 'test-adhoc', at: 0, duration: '10s', params: { size_mb: 4 } }, leaseMs: 60_000 });
  assert.ok((await faultEvidence(handle)).every((e) => e.ok));
  await revertFault(handle);
  assert.equal(existsSync(join(config.home, 'volumes', 'test-adhoc')), false);
  assert.doesNotMatch(readFileSync('/proc/self/mountinfo', 'utf8'), /volumes\/test-adhoc/);
});
