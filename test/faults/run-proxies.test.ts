// Run proxies over a run's life, through the workflow code the experiment uses
// (FaultLifecycle): a run that lasts several times its proxies' lease keeps them
// (the lease is renewed while it lives) and removes them at its end; a run that dies
// (terminated) stops renewing, and the stack's watchdog removes its proxy once the
// lease has run out. Real Temporal, Toxiproxy, Ordeal's database and watchdog.
import assert from 'node:assert/strict';
import { createServer, connect, type AddressInfo, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { closeFaults, faultActivities, faultStore, runProxyName } from '../../activities/faults/index.ts';
import type { ProxyDecl } from '../../activities/system/index.ts';
import type { runProxiesWorkflow } from './workflows/run-proxies.ts';
import { config, eventually, toxiproxy } from './helpers.ts';

const LEASE_MS = 2000;
const taskQueue = `run-proxies-test-${process.pid}`;
let upstream: Server;
let nativeConnection: NativeConnection;
let worker: Worker;
let running: Promise<void>;
let client: Client;

const freePort = (): Promise<number> => new Promise((resolve) => {
  const srv = createServer().listen(0, '127.0.0.1', () => {
    const p = (srv.address() as AddressInfo).port;
    srv.close(() => resolve(p));
  });
});

/** One round trip through the proxy to the echo upstream. */
const echo = (port: number): Promise<string> => new Promise((resolve) => {
  const sock = connect({ host: '127.0.0.1', port, timeout: 1000 }, () => sock.write('ping'));
  sock.once('data', (b) => { sock.destroy(); resolve(b.toString()); });
  sock.once('timeout', () => { sock.destroy(); resolve('timeout'); });
  sock.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
});

before(async () => {
  upstream = createServer((s) => s.on('data', (b) => s.write(b))).listen(0, '127.0.0.1');
  await new Promise((r) => upstream.once('listening', r));
  const address = `127.0.0.1:${config.ports.temporal}`;
  nativeConnection = await NativeConnection.connect({ address });
  worker = await Worker.create({
    connection: nativeConnection, taskQueue, activities: faultActivities,
    workflowsPath: fileURLToPath(new URL('./workflows/run-proxies.ts', import.meta.url)),
  });
  running = worker.run();
  client = new Client({ connection: await Connection.connect({ address }) });
});

after(async () => {
  worker.shutdown();
  await running;
  await nativeConnection.close();
  await client.connection.close();
  upstream.close();
  const left = (await faultStore().runProxies()).filter((r) => r.runId.startsWith('proxies-'));
  await closeFaults();
  assert.deepEqual(left.map((r) => r.proxyName), [], 'no run proxy of this test left');
});

async function decl(): Promise<Record<string, ProxyDecl>> {
  return { edge: { listen: `127.0.0.1:${await freePort()}`, upstream: `127.0.0.1:${(upstream.address() as AddressInfo).port}` } };
}

const rowOf = async (proxyName: string) => (await faultStore().runProxies({ all: true })).find((r) => r.proxyName === proxyName);

void test('a run lasting several leases keeps its proxy (renewed while it lives) and removes it at its end', async () => {
  const runId = `proxies-long-${Date.now()}`;
  const proxies = await decl();
  const name = runProxyName(runId, 'edge');
  const listen = Number(proxies.edge!.listen.split(':')[1]);
  const holdMs = 4 * LEASE_MS;
  const handle = await client.workflow.start<typeof runProxiesWorkflow>('runProxiesWorkflow', {
    taskQueue, workflowId: runId, args: [{ runId, proxies, leaseMs: LEASE_MS, holdMs }],
  });
  const created = await eventually('the run proxy created', async () => (await toxiproxy.proxies())[name] ? Date.now() : undefined);
  // Past three leases, while the stack's watchdog sweeps every second: the proxy is
  // still there, still forwarding, and its lease lies ahead.
  while (Date.now() - created < 3 * LEASE_MS) {
    assert.ok((await toxiproxy.proxies())[name], `proxy present ${Date.now() - created} ms after creation`);
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.equal(await echo(listen), 'ping', 'the proxy forwards to the upstream');
  const row = (await rowOf(name))!;
  assert.equal(row.state, 'active');
  assert.ok(row.leaseExpiresAt.getTime() > Date.now(), `lease renewed: expires ${row.leaseExpiresAt.toISOString()}, ${3 * LEASE_MS} ms after a ${LEASE_MS} ms lease began`);

  assert.deepEqual(await handle.result(), [], 'no note: renewal ran until the run ended');
  assert.equal((await toxiproxy.proxies())[name], undefined, 'removed at the run\'s end');
  assert.deepEqual([(await rowOf(name))?.state, (await rowOf(name))?.removedBy], ['removed', 'worker']);
  const history = await handle.fetchHistory();
  const holds = history.events?.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'holdRunProxies').length;
  assert.equal(holds, 1, 'one renewing activity for the whole run (heartbeats do not grow history)');
});

void test('a run that dies stops renewing: the watchdog removes its proxy once the lease has run out', async () => {
  const runId = `proxies-dead-${Date.now()}`;
  const proxies = await decl();
  const name = runProxyName(runId, 'edge');
  const handle = await client.workflow.start<typeof runProxiesWorkflow>('runProxiesWorkflow', {
    taskQueue, workflowId: runId, args: [{ runId, proxies, leaseMs: LEASE_MS, holdMs: 600_000 }],
  });
  await eventually('the run proxy created', async () => (await toxiproxy.proxies())[name]);
  const first = (await rowOf(name))!.leaseExpiresAt.getTime();
  await eventually('the lease renewed while the run lives', async () => ((await rowOf(name))!.leaseExpiresAt.getTime() > first ? true : undefined));
  await handle.terminate('test: the run dies');
  const t0 = Date.now();
  // The renewing activity learns of it at its next heartbeat (throttled to 0.8 × its 15 s timeout).
  await eventually('the watchdog removes the dead run\'s proxy', async () => ((await toxiproxy.proxies())[name] ? undefined : true), 60_000);
  const row = (await rowOf(name))!;
  assert.deepEqual([row.state, row.removedBy], ['removed', 'watchdog'], `removed ${Date.now() - t0} ms after the run died`);
  assert.ok(row.leaseExpiresAt.getTime() <= Date.now(), 'only after its lease ran out');
});
