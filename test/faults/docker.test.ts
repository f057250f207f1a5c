// The docker backend on a real (private) Docker engine: only services a system file
// declares as `kind: docker` are faulted, through the container they name; labelled
// containers nobody declares, unlabelled ones and Ordeal's own names are refused and
// left untouched. Leases, evidence, idempotent revert, the watchdog, and a docker
// service on another fault host (its own `ordeal worker --faults --host`).
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import {
  closeFaults, faultEvidence, faultStore, injectFault, revertFault, startWatchdog, validateFaultTargets, type FaultSpecInput,
} from '../../activities/faults/index.ts';
import { preflight } from '../../activities/preflight/index.ts';
import { resolveScenarioDocument } from '../../activities/scenario/index.ts';
import type { SystemFile } from '../../activities/system/index.ts';
import { config, eventually, leaseReverted, listOpenFaults } from './helpers.ts';
import { IMAGE, startDockerEngine, type DockerEngine } from './docker-engine.ts';
import { faultWorker, routedFaults, type FaultWorker, type RoutedFaults } from './fault-workers.ts';

let engine: DockerEngine;
let port: number;
let system: SystemFile;

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

const running = async (name: string) => (await engine.docker.getContainer(name).inspect()).State.Running;

async function container(name: string, labels: Record<string, string>, cmd: string[]): Promise<void> {
  // Host networking only: the container binds loopback, like every stack service.
  const c = await engine.docker.createContainer({ Image: IMAGE, name, Cmd: cmd, Labels: labels, HostConfig: { NetworkMode: 'host' } });
  await c.start();
}

before(async () => {
  engine = await startDockerEngine(join(config.home, 'docker-test'));
  process.env.ORDEAL_DOCKER_SOCKET = engine.socket;
  port = await freePort();
  const target = { 'ordeal.target': 'true' };
  await container('ordeal-test-web', target, ['/bin/httpd', '-f', '-p', `127.0.0.1:${port}`, '-h', '/www']);
  // Labelled but declared by no system file: the old rule (any labelled container) would fault it.
  await container('ordeal-test-stray', target, ['/bin/sleep', '600']);
  await container('ordeal-test-unlabelled', {}, ['/bin/sleep', '600']);
  // The service's name (web) differs from its container's: faults go through the declaration.
  system = {
    name: 'docker-test', proxies: {},
    services: {
      web: { kind: 'docker', container: 'ordeal-test-web', ready: { tcp: `127.0.0.1:${port}` } },
      bare: { kind: 'docker', container: 'ordeal-test-unlabelled' },
      temporal: { kind: 'docker', container: 'ordeal-test-stray' },
    },
  };
  await eventually('httpd in the container to answer', async () => ((await http()) === 'ok' ? true : undefined), 10_000);
});

after(async () => {
  const open = await listOpenFaults();
  for (const l of open) await revertFault(l.handle, 'test-cleanup').catch(() => {});
  await closeFaults();
  const states = await engine.docker.listContainers({ all: true });
  await engine.stop();
  assert.deepEqual(open.map((o) => o.faultId), [], 'no open lease left');
  for (const name of ['ordeal-test-web', 'ordeal-test-stray', 'ordeal-test-unlabelled']) {
    assert.equal(states.find((c) => c.Names.includes(`/${name}`))?.State, 'running', `${name} ended running and unpaused`);
  }
});

const kill = (target: string, extra: Partial<FaultSpecInput> = {}): FaultSpecInput => ({ type: 'service_kill', target, at: 0, duration: '10s', ...extra });

void test('docker kill of a declared service: its declared container stops; revert starts it and waits for its ready check', async () => {
  const before = await engine.docker.getContainer('ordeal-test-web').inspect();
  // No backend named: a service declared kind: docker goes to the docker backend.
  const handle = await injectFault({ runId: 'test-docker', spec: kill('web'), leaseMs: 60_000, system });
  assert.equal(handle.backend, 'docker');
  assert.equal(handle.revert.container, before.Id, 'the handle names the declared container by id');
  assert.equal(handle.revert.socket, engine.socket, 'and the engine, so any process can revert it');
  const evidence = await faultEvidence(handle);
  assert.ok(evidence[0]?.ok, JSON.stringify(evidence));
  assert.match(evidence[0]!.description, /web \(container ordeal-test-web\): .*Running=false ExitCode=137/);
  assert.equal(await http(), 'ECONNREFUSED');
  assert.equal((await faultStore().get(handle.faultId))?.state, 'active', 'the lease is open while the fault is in effect');

  const r = await revertFault(handle);
  assert.deepEqual([r.reverted, r.alreadyReverted], [true, false]);
  assert.match(r.detail ?? '', new RegExp(`TCP 127\\.0\\.0\\.1:${port} accepts`), 'revert returned once the declared ready check passed');
  assert.equal(await http(), 'ok');
  assert.equal((await faultStore().get(handle.faultId))?.state, 'reverted');
  assert.equal((await revertFault(handle)).alreadyReverted, true);
});

void test('docker pause: frozen container (gray failure), unpaused by revert', async () => {
  const handle = await injectFault({ runId: 'test-docker', spec: { type: 'process_pause', target: 'web', at: 0, duration: '10s' }, leaseMs: 60_000, system });
  const evidence = await faultEvidence(handle);
  assert.match(evidence[0]!.description, /Paused=true/);
  assert.notEqual(await http(700), 'ok', 'a paused container answers nothing');
  await revertFault(handle);
  assert.equal(await http(), 'ok');
  assert.equal((await revertFault(handle)).alreadyReverted, true);
});

void test('refused, and left running: a labelled container no service declares, a declared unlabelled one, Ordeal\'s own name', async () => {
  const cases: [FaultSpecInput, RegExp, string][] = [
    [kill('ordeal-test-stray', { backend: 'docker' }), /unknown target "ordeal-test-stray" for the docker backend; docker services of system docker-test that can be faulted: web, bare/, 'ordeal-test-stray'],
    [kill('ordeal-test-web', { backend: 'docker' }), /unknown target "ordeal-test-web"/, 'ordeal-test-web'],
    [kill('bare'), /container "ordeal-test-unlabelled" \(services\.bare\) is not labelled ordeal\.target=true/, 'ordeal-test-unlabelled'],
    [kill('temporal'), /target temporal is the orchestrator running the experiment, not a system under test/, 'ordeal-test-stray'],
  ];
  for (const [spec, why, name] of cases) {
    const issues = await validateFaultTargets([spec], { system });
    assert.equal(issues.length, 1, `${spec.target}: ${JSON.stringify(issues)}`);
    assert.match(issues[0]!.message, why);
    await assert.rejects(injectFault({ runId: 'test-docker', spec, leaseMs: 60_000, system }),
      (err: Error & { nonRetryable?: boolean }) => err.nonRetryable === true && why.test(err.message));
    assert.equal(await running(name), true, `${name} was not touched`);
  }
  // Without a system file that declares it, no container at all (the embedded stack declares none).
  await assert.rejects(injectFault({ runId: 'test-docker', spec: kill('web', { backend: 'docker' }), leaseMs: 60_000 }), /unknown target "web" for the docker backend/);
  assert.equal((await listOpenFaults()).filter((l) => l.runId === 'test-docker').length, 0, 'no lease was written for a refused fault');
});

void test('validate --live: each declared docker service shows its container\'s state, each fault what it would do or why it is refused; nothing touched', async () => {
  const base = resolveScenarioDocument({ scenario: 'db_failure_peak_load' });
  assert.ok(base.ok, JSON.stringify(!base.ok && base.problems));
  const fault = (target: string) => ({ type: 'service_kill' as const, target, at: 1000, duration: 2000, restart: true, params: {} });
  const report = await preflight({ ...base.scenario, system, faults: [fault('web'), fault('bare')] });
  const item = (name: string) => report.items.find((i) => i.kind === 'service' && i.name === name)!;
  assert.equal(item('web').reachable, true, item('web').detail);
  assert.match(item('web').detail, /^docker container ordeal-test-web \([0-9a-f]{12}\) running, labelled ordeal\.target=true; ready: /);
  assert.match(item('web').faults[0]!.would, /^docker kill container ordeal-test-web \(service web\) at \+1s for 2s, then start it/);
  assert.equal(item('web').faults[0]!.refused, undefined);
  assert.equal(item('bare').reachable, false);
  assert.match(item('bare').faults[0]!.refused ?? '', /is not labelled ordeal\.target=true/);
  for (const name of ['ordeal-test-web', 'ordeal-test-unlabelled']) assert.equal(await running(name), true);
});

void test('an expired lease on a docker service is reverted by the watchdog, which starts the container again', async () => {
  const handle = await injectFault({ runId: 'test-docker-watchdog', spec: kill('web'), leaseMs: 1500, system });
  assert.equal(await running('ordeal-test-web'), false);
  await new Promise((r) => setTimeout(r, 1600));
  // This sweep or the stack's own watchdog (the same code, every second) reverts it.
  const watchdog = await startWatchdog({ port: null, intervalMs: 60_000 });
  await watchdog.close();
  const lease = await leaseReverted(handle.faultId, 'the lease reverted');
  assert.equal(lease.revertedBy, 'watchdog');
  assert.equal(await running('ordeal-test-web'), true);
  await eventually('httpd to answer again', async () => ((await http()) === 'ok' ? true : undefined), 10_000);
});

void test('a docker service on another host: faulted by that host\'s fault worker on its queue, refused elsewhere, its lease reverted by that host\'s watchdog', async () => {
  const remote: SystemFile = { ...system, services: { web: { kind: 'docker', container: 'ordeal-test-web', host: 'dock', ready: { tcp: `127.0.0.1:${port}` } } } };
  // The host's worker reaches the same private engine (ORDEAL_DOCKER_SOCKET, inherited).
  let dock: FaultWorker = await faultWorker('dock');
  const routed: RoutedFaults = await routedFaults(`docker-hosts-test-${process.pid}`);
  try {
    const { handle, evidence, queue } = await routed.inject('test-docker-host', kill('web'), remote);
    assert.equal(queue, 'ordeal-faults-dock');
    assert.deepEqual([handle.host, handle.backend], ['dock', 'docker']);
    assert.ok(evidence[0]?.ok, JSON.stringify(evidence));
    assert.equal((await faultStore().get(handle.faultId))?.host, 'dock', 'the lease records the host');
    assert.equal(await running('ordeal-test-web'), false);
    // Neither this process (host local) nor a worker of another host may revert it.
    await assert.rejects(revertFault(handle), /belongs to fault host "dock", and this fault worker serves host "local"/);
    const r = await routed.revert(handle);
    assert.deepEqual([r.reverted, r.alreadyReverted], [true, false]);
    assert.equal(await running('ordeal-test-web'), true, `restarted by dock's worker: ${r.detail}`);

    await assert.rejects(injectFault({ runId: 'test-docker-host', spec: kill('web'), leaseMs: 1000, system: remote }),
      /belongs to fault host "dock", and this fault worker serves host "local"/);

    // dock's worker dies with the fault in effect: nobody else touches it; dock's watchdog reverts it when dock is back.
    const { handle: leased } = await routed.inject('test-docker-host', kill('web'), remote, { leaseMs: 1500 });
    await dock.kill();
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal((await faultStore().get(leased.faultId))?.state, 'active', 'the stack\'s watchdog left dock\'s lease alone');
    assert.equal(await running('ordeal-test-web'), false, 'still down while dock has no worker');
    dock = await faultWorker('dock');
    const done = await leaseReverted(leased.faultId, 'dock\'s watchdog reverts the lease', 30_000);
    assert.equal(done.revertedBy, 'watchdog@dock');
    assert.equal(await running('ordeal-test-web'), true);
    await eventually('httpd to answer again', async () => ((await http()) === 'ok' ? true : undefined), 10_000);
  } finally {
    await routed.close();
    await dock.kill();
  }
});
