// ERROR is Ordeal's own failure, and its database gone is one: a worker whose
// ORDEAL_DB_URL points at a loopback port nothing listens on (a stopped or misconfigured
// database, the realistic and deterministic case). The real workflow on the test stack
// ends in ERROR within seconds, with a reason that names Ordeal's database; nothing was
// sent and no fault was injected, so none is left active; the report is still written.
import { createServer, type AddressInfo } from 'node:net';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { OrdealClient } from '../../scripts/client/index.ts';
import { client, leasesOf, outcomeRows, paymentApiReady, shortDbKill, uniqueQueue, workerProcess } from './harness.ts';

const taskQueue = uniqueQueue('test-ordeal-db');
const loadTaskQueue = `${taskQueue}-load`;
let ordeal: OrdealClient;
let port: number;
let stopWorker: (() => Promise<void>) | undefined;

before(async () => {
  // A port that was just free: bound, then closed again.
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const worker = await workerProcess(taskQueue, [loadTaskQueue], { ORDEAL_DB_URL: `postgres://postgres@127.0.0.1:${port}/ordeal` });
  stopWorker = () => worker.kill('SIGTERM');
  ordeal = await client(taskQueue);
});
after(async () => {
  await stopWorker?.();
  await ordeal?.close();
});

void test("Ordeal's database unreachable: ERROR naming it, within seconds, no fault injected or left active", async () => {
  const t0 = Date.now();
  const h = await ordeal.start({ scenario: 'db_failure_peak_load', loadTaskQueue, overrides: shortDbKill });
  const r = await h.result();
  const took = Date.now() - t0;
  assert.equal(r.verdict, 'ERROR', r.reasons.join('\n'));
  assert.match(r.reasons[0]!, new RegExp(`^generating-ledger failed: Ordeal's database \\(127\\.0\\.0\\.1:${port}/ordeal\\) is unreachable while persisting the ledger: .*ECONNREFUSED`),
    r.reasons.join('\n'));
  // The worker waited out a restart's worth (15 s), then gave up without activity retries.
  assert.ok(took < 60_000, `ERROR after ${took} ms`);
  // Never the system's failure: no FAIL reasons, nothing sent, nothing injected.
  assert.equal(r.report.load, null);
  assert.equal(r.report.faults.length, 0);
  assert.equal(r.report.reconcile, null);
  assert.equal(r.report.proof?.kind, 'none');
  assert.match(r.report.proof!.detail, /Ordeal failed \(generating-ledger failed: Ordeal's database/);
  // The run's end could not read its proxies either: a note, not another verdict.
  assert.ok(r.reasons.some((x) => /run proxies of .* not removed \(Ordeal's database .* is unreachable/.test(x)), r.reasons.join('\n'));
  // The real Ordeal database (the test process's) has no lease and no outcome of this run; the system is untouched.
  assert.deepEqual(await leasesOf(r.run_id), []);
  assert.deepEqual(await outcomeRows(r.run_id), { rows: 0, distinct: 0 });
  assert.equal(await paymentApiReady(), true);
  assert.equal((await h.status()).active_faults.length, 0);
  // The reports are Ordeal's files, not its database: written, and saying ERROR.
  assert.ok(r.paths && existsSync(r.paths.junit), 'reports written');
  assert.equal(JSON.parse(readFileSync(r.paths.json, 'utf8')).verdict, 'ERROR');
});
