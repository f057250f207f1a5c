// Distribution over Temporal: two load worker processes serve the `ordeal-load`
// queue; shards land on both; one worker is SIGKILLed mid-shard and its shards
// resume on the other from their last heartbeat, never re-sending an acknowledged
// message nor skipping one; merged counts equal the ledger. Needs temporal + ordeal-db.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { loadStackConfig, repoRoot } from '../../scripts/stack/config.ts';
import { down, stackServices, status, up } from '../../scripts/stack/index.ts';
import { closeOutcomeDbs, parseLoadSettings, readOutcomes } from '../../activities/load/index.ts';
import { ledgerSpecSchema } from '../../activities/ledger/types.ts';
import { startTestServer } from './servers.ts';
import type { loadCancelTestWorkflow, loadPhaseTestWorkflow } from './workflows/load-phase.ts';

const children: ChildProcess[] = [];
// The stack runs a load worker of its own on the same `ordeal-load` queue; while it
// is up it takes shards too, and this test must know exactly which worker ran what.
const stackLoadWorkerWasUp = { value: false };
before(async () => {
  const config = loadStackConfig();
  const rows = await status({ config, services: stackServices, only: ['load-worker'] });
  stackLoadWorkerWasUp.value = rows.find((r) => r.service === 'load-worker')?.state === 'up';
  if (stackLoadWorkerWasUp.value) await down({ config, services: stackServices, only: ['load-worker'] });
});
after(async () => {
  if (stackLoadWorkerWasUp.value) await up({ config: loadStackConfig(), services: stackServices, only: ['load-worker'] });
});
after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await closeOutcomeDbs();
});

const metricsUrls = new Map<string, string>();

function startLoadWorker(id: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--disable-warning=TimeoutNegativeWarning', 'workers/load-worker.ts', '--metrics-port', '0', '--identity', id, '--max-shards', '2'],
    { cwd: repoRoot, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`load worker ${id} not ready in 30 s:\n${out}`)), 30_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /"metrics":"(http:\/\/127\.0\.0\.1:\d+\/metrics)"/.exec(out);
      if (m) metricsUrls.set(id, m[1]!);
      if (out.includes(`READY ${id}`)) { clearTimeout(timer); resolve(child); }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`load worker ${id} exited ${code}:\n${out}`)); });
  });
}

const exited = (c: ChildProcess) => new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r())));

/** A load worker's graceful stop: SIGTERM, then up to 15 s for it to exit. */
async function stopLoadWorker(c: ChildProcess): Promise<void> {
  c.kill('SIGTERM');
  await Promise.race([exited(c), new Promise((r) => setTimeout(r, 15_000))]);
}

/** A workflow worker for this file's test workflows on a queue of the run's own, and a client; `close` closes both connections. */
async function phaseRig(runId: string) {
  const address = `127.0.0.1:${loadStackConfig().ports.temporal}`;
  const nativeConnection = await NativeConnection.connect({ address });
  const taskQueue = `load-test-${runId}`;
  const wfWorker = await Worker.create({ connection: nativeConnection, taskQueue,
    workflowsPath: fileURLToPath(new URL('./workflows/load-phase.ts', import.meta.url)) });
  const connection = await Connection.connect({ address });
  const close = async () => { await connection.close(); await nativeConnection.close(); };
  return { taskQueue, wfWorker, client: new Client({ connection }), close };
}

void test('shards spread over two load workers; a SIGKILLed worker\'s shards resume exactly on the other', async () => {
  const srv = await startTestServer();
  const runId = `dist-${Date.now()}`;
  const [a, b] = await Promise.all([startLoadWorker('load-A'), startLoadWorker('load-B')]);
  const { taskQueue, wfWorker, client, close } = await phaseRig(runId);
  try {
    await wfWorker.runUntil(async () => {
      const messages = 6000;
      const ledger = ledgerSpecSchema.parse({ messages, seed: 11 });
      const settings = parseLoadSettings({ target: srv.url, rate: 1000, shards: 4 });
      const handle = await client.workflow.start<typeof loadPhaseTestWorkflow>('loadPhaseTestWorkflow',
        { taskQueue, workflowId: runId, args: [{ runId, settings, ledger }] });

      // Kill A once it is well into its shards (and has heartbeated), then snapshot what was persisted.
      await new Promise((r) => setTimeout(r, 2500));
      a.kill('SIGKILL');
      await exited(a);
      const persistedAtKill = new Set<string>();
      for await (const batch of readOutcomes(runId)) for (const r of batch) if (r.status === 'acknowledged') persistedAtKill.add(r.idempotency_key);
      const sentAtKill = srv.total();

      const { summary, shardWorkers, attempts, progressSignals } = await handle.result();
      const workers = new Set(shardWorkers.flat());
      assert.ok(workers.has('load-A') && workers.has('load-B'), `shards ran on ${[...workers].join(', ')}`);
      const firstWorkers = new Set(shardWorkers.map((w) => w[0]));
      assert.deepEqual([...firstWorkers].sort(), ['load-A', 'load-B'], 'shards landed on both workers from the start');
      assert.ok(shardWorkers.some((w) => w.length === 2 && w[0] === 'load-A' && w[1] === 'load-B'), `a shard of A resumed on B: ${JSON.stringify(shardWorkers)}`);
      assert.ok(attempts.some((n) => n > 1), `attempts ${attempts.join(',')}`);
      assert.ok(progressSignals >= 4, `progress signals ${progressSignals}`);

      // Merged counts equal the ledger; every entry has exactly one final outcome.
      assert.equal(summary.counts.acked, messages);
      assert.equal(summary.counts.acked + summary.counts.failed + summary.counts.unknown, messages);
      const seqs: number[] = [];
      for await (const batch of readOutcomes(runId)) for (const r of batch) seqs.push(r.seq);
      assert.equal(seqs.length, messages);
      assert.equal(new Set(seqs).size, messages);

      // Never skipped: the system saw every key. Never re-sent an acknowledged (persisted) message.
      assert.equal(srv.requests.size, messages);
      const resentAfterAck = [...persistedAtKill].filter((k) => srv.requests.get(k)!.length > 1);
      assert.deepEqual(resentAfterAck, []);
      // The only second sends are entries in flight (or not yet persisted) when A died; counts stay exact.
      const twice = [...srv.requests.values()].filter((t) => t.length > 1).length;
      assert.equal(srv.total(), summary.counts.requests + twice);
      assert.ok(twice < 1000, `${twice} entries were in flight at the kill`);

      // The seconds without a sender are a harness gap: named, left out of the thresholds,
      // and nothing the resumed attempts sent is measured from a time inside it (before the
      // fix a resumed shard's first arrivals were due in the past: latency ~ the gap).
      const gaps = summary.harness_gaps ?? [];
      assert.ok(gaps.length >= 1, 'the kill left a harness gap');
      assert.ok(gaps.every((g) => g.kind === 'harness_gap' && /^harness gap: no load worker sent for shard \d+ for [\d.]+ s \(load-A stopped heartbeating; attempt \d+ resumed on load-B\)$/.test(g.why)), JSON.stringify(gaps));
      assert.ok(summary.windows!.excluded.some((e) => e.kind === 'harness_gap'), 'the gap is left out of the thresholds');
      const gapS = Math.min(...gaps.map((g) => g.to_s - g.from_s));
      assert.ok(gapS >= 3, `the gap lasts at least the heartbeat timeout (3 s): ${gapS} s`);
      // Measured from inside the gap, a resumed arrival would read at least the gap plus the 2.5 s sent before it.
      assert.ok(summary.latency_ms.max < gapS * 1000, `no request is measured from inside the gap: max ${summary.latency_ms.max} ms, gap ${gapS} s`);

      // Live Prometheus metrics from the surviving worker.
      const metrics = await (await fetch(metricsUrls.get('load-B')!)).text();
      const ok = Number(new RegExp(`ordeal_load_requests_total\\{scenario="[^"]*",run_id="${runId}",class="ok"\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
      assert.ok(ok > 1000, `load-B counted ${ok} ok requests:\n${metrics.slice(0, 500)}`);
      assert.match(metrics, /ordeal_load_latency_seconds_bucket/);
      assert.match(metrics, /ordeal_load_outcomes_written_total\{[^}]*run_id="[^"]+"\} \d+/);
      console.log(`kill at ${sentAtKill} sent, ${persistedAtKill.size} persisted acks; re-sent in-flight entries: ${twice}; ` +
        `workers per shard ${JSON.stringify(shardWorkers)}; attempts ${attempts.join(',')}; progress signals ${progressSignals}; ` +
        `p99 ${summary.latency_ms.p99} ms; harness gaps ${JSON.stringify(gaps.map((g) => [g.from_s, g.to_s]))}`);
    });
  } finally {
    await stopLoadWorker(b);
    await close();
    await srv.close();
  }
});

void test('cancelling the load activity (the circuit breaker) stops sending within a heartbeat and keeps the outcome log complete', async () => {
  const srv = await startTestServer();
  const runId = `cancel-${Date.now()}`;
  const worker = await startLoadWorker('load-C');
  const { taskQueue, wfWorker, client, close } = await phaseRig(runId);
  try {
    await wfWorker.runUntil(async () => {
      const messages = 20_000;
      const ledger = ledgerSpecSchema.parse({ messages, seed: 5 });
      const settings = parseLoadSettings({ target: srv.url, rate: 500, shards: 2 });
      const cancelAfterMs = 2500;
      const started = Date.now();
      const out = await client.workflow.execute<typeof loadCancelTestWorkflow>('loadCancelTestWorkflow',
        { taskQueue, workflowId: runId, args: [{ runId, settings, ledger, cancelAfterMs }] });
      assert.equal(out.error, undefined);
      assert.deepEqual(out.results.map((r) => r.cancelled), [true, true]);
      // 500/s for ~2.5 s, plus at most a heartbeat interval and a timer's slack before the stop.
      const sent = srv.total();
      assert.ok(sent >= 800 && sent < 2500, `sent ${sent} before stopping`);
      const lastRequest = Math.max(...[...srv.requests.values()].flat());
      assert.ok(lastRequest - (started + cancelAfterMs) < 2500, `last request ${lastRequest - started - cancelAfterMs} ms after the cancel`);
      const totals = out.results.reduce((a, r) => a + r.counts.acked + r.counts.failed + r.counts.unknown, 0);
      assert.equal(totals, messages);
      let rows = 0;
      let cancelledRows = 0;
      for await (const batch of readOutcomes(runId)) {
        rows += batch.length;
        cancelledRows += batch.filter((r) => r.error_class === 'cancelled' && r.status === 'unknown').length;
      }
      assert.equal(rows, messages, 'every ledger entry still has exactly one outcome');
      assert.ok(cancelledRows >= messages - 2500, `cancelled rows ${cancelledRows}`);
    });
  } finally {
    await stopLoadWorker(worker);
    await close();
    await srv.close();
  }
});
