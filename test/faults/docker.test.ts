import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { closeFaults, faultEvidence, injectFault, revertFault, validateFaultTargets } from '../../activities/faults/index.ts';
import { config, eventually, listOpenFaults } from './helpers.ts';
import { IMAGE, startDockerEngine, type DockerEngine } from './docker-engine.ts';

let engine: DockerEngine;
let port: number;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
  });
}

async function http(timeoutMs = 1000): Promise<'ok' | string> {
  try {
    const res = await request(`http://127.0.0.1:${port}/`, { headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    await res.body.text();
    return res.statusCode > 0 ? 'ok' : String(res.statusCode);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  }
}

before(async () => {
  engine = await startDockerEngine(join(config.home, 'docker-test'));
  process.env.ORDEAL_DOCKER_SOCKET = engine.socket;
  port = await freePort();
  // Host networking only: the container binds loopback, like every stack service.
  const web = await engine.docker.createContainer({
    Image: IMAGE, name: 'ordeal-test-web', Cmd: ['/bin/httpd', '-f', '-p', `127.0.0.1:${port}`, '-h', '/www'],
    Labels: { 'ordeal.target': 'true', 'ordeal.name': 'web' }, HostConfig: { NetworkMode: 'host' },
  });
  await web.start();
  const other = await engine.docker.createContainer({ Image: IMAGE, name: 'ordeal-test-unlabelled', Cmd: ['/bin/sleep', '600'], HostConfig: { NetworkMode: 'host' } });
  await other.start();
  await eventually('httpd in the container to answer', async () => ((await http()) === 'ok' ? true : undefined), 10_000);
});

after(async () => {
  const open = await listOpenFaults();
  await closeFaults();
  const states = await engine.docker.listContainers({ all: true });
  await engine.stop();
  assert.deepEqual(open.map((o) => o.faultId), [], 'no open lease left');
  const web = states.find((c) => c.Names.includes('/ordeal-test-web'));
  assert.equal(web?.State, 'running', 'the target container ended running and unpaused');
});

void test('docker kill: the labelled container stops, revert starts it again', async () => {
  const handle = await injectFault({ runId: 'test-docker', spec: { type: 'service_kill', target: 'web', backend: 'docker', at: 0, duration: '10s' }, leaseMs: 60_000 });
  assert.equal(handle.revert.socket, engine.socket, 'the handle names the engine, so any process can revert it');
  const evidence = await faultEvidence(handle);
  assert.ok(evidence[0]?.ok, JSON.stringify(evidence));
  assert.match(evidence[0]!.description, /Running=false ExitCode=137/);
  assert.equal(await http(), 'ECONNREFUSED');

  const r = await revertFault(handle);
  assert.deepEqual([r.reverted, r.alreadyReverted], [true, false]);
  await eventually('httpd to answer after the restart', async () => ((await http()) === 'ok' ? true : undefined), 10_000);
  assert.equal((await revertFault(handle)).alreadyReverted, true);
});

void test('docker pause: frozen container (gray failure), unpaused by revert', async () => {
  const handle = await injectFault({ runId: 'test-docker', spec: { type: 'process_pause', target: 'web', backend: 'docker', at: 0, duration: '10s' }, leaseMs: 60_000 });
  const evidence = await faultEvidence(handle);
  assert.match(evidence[0]!.description, /Paused=true/);
  assert.notEqual(await http(700), 'ok', 'a paused container answers nothing');
  await revertFault(handle);
  assert.equal(await http(), 'ok');
  assert.equal((await revertFault(handle)).alreadyReverted, true);
});

void test('containers without the ordeal.target=true label cannot be faulted', async () => {
  const issues = await validateFaultTargets([{ type: 'service_kill', target: 'ordeal-test-unlabelled', backend: 'docker', at: 0, duration: '5s' }]);
  assert.equal(issues.length, 1);
  assert.match(issues[0]!.message, /no container "ordeal-test-unlabelled" labelled ordeal\.target=true .*\(labelled: web\)/);
  await assert.rejects(
    injectFault({ runId: 'test-docker', spec: { type: 'service_kill', target: 'ordeal-test-unlabelled', backend: 'docker', at: 0, duration: '5s' }, leaseMs: 60_000 }),
    (err: Error & { nonRetryable?: boolean }) => err.nonRetryable === true && /labelled ordeal\.target=true/.test(err.message),
  );
  const c = await engine.docker.getContainer('ordeal-test-unlabelled').inspect();
  assert.equal(c.State.Running, true, 'the unlabelled container was not touched');
});
