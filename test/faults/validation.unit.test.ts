// Fault validation without a stack: every fault type's target, backend and parameters
// checked against the embedded stack's system file, each problem with its path. The
// check that injectFault refuses an invalid fault and touches nothing needs the stack
// (its lease store and Toxiproxy): validation.test.ts.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { closeFaults, validateFaultTargets } from '../../activities/faults/index.ts';

after(closeFaults);

const f = (o: Record<string, unknown>) => ({ at: '10s', duration: '30s', ...o });

void test('a valid fault list has no issues', async () => {
  const issues = await validateFaultTargets([
    f({ type: 'database_kill', target: 'postgres' }),
    f({ type: 'process_pause', target: 'redis' }),
    f({ type: 'network_latency', target: 'postgres', params: { latency_ms: 200, jitter_ms: 50 } }),
    f({ type: 'network_partition', target: 'kafka' }),
    f({ type: 'provider_errors', target: 'stripe', params: { status: 429, rate: 0.5 } }),
    f({ type: 'cpu_spike', target: 'host', params: { workers: 1 } }),
    f({ type: 'disk_full', target: 'spool' }),
  ]);
  assert.deepEqual(issues, []);
});

void test('each unknown target / type / backend combination gets its own clear error, with its path', async () => {
  const issues = await validateFaultTargets([
    f({ type: 'database_kill', target: 'mysql' }),
    f({ type: 'network_latency', target: 'mongodb' }),
    f({ type: 'network_latency', target: 'postgres', backend: 'process' }),
    f({ type: 'database_kill', target: 'ordeal-db' }),
    f({ type: 'earthquake', target: 'postgres' }),
    f({ type: 'network_latency', target: 'redis', params: { latency_ms: -5, color: 'red' } }),
    f({ type: 'cpu_spike', target: 'postgres' }),
    f({ type: 'provider_errors', target: 'paypal', params: { status: 418 } }),
    f({ type: 'database_kill', target: 'postgres', duration: '-3s' }),
  ]);
  const byIndex = (i: number) => issues.filter((x) => x.path[1] === i).map((x) => `${x.path.join('.')}: ${x.message}`);
  assert.match(byIndex(0)[0]!, /^faults\.0\.target: .*unknown target "mysql" for the process backend; services of system embedded-stack that can be faulted: .*postgres/);
  assert.match(byIndex(1)[0]!, /^faults\.1\.target: .*unknown target "mongodb" for the toxiproxy backend; proxies declared by system embedded-stack: postgres, redis, kafka/);
  assert.match(byIndex(2)[0]!, /^faults\.2\.backend: backend process cannot inject network_latency \(backends that can: toxiproxy/);
  assert.match(byIndex(3)[0]!, /^faults\.3\.target: .*ordeal-db is Ordeal's own state/);
  assert.match(byIndex(4)[0]!, /^faults\.4\.type: /);
  assert.equal(byIndex(5).length, 2);
  assert.match(byIndex(5).join('\n'), /params\.latency_ms must be a number in 0\.\.600000, got -5/);
  assert.match(byIndex(5).join('\n'), /params\.color is not a parameter of network_latency/);
  assert.match(byIndex(6)[0]!, /the host backend's only target is "host"/);
  assert.match(byIndex(7).join('\n'), /unknown target "paypal" for the provider backend/);
  assert.match(byIndex(7).join('\n'), /params\.status must be one of 429, 500/);
  assert.match(byIndex(8)[0]!, /^faults\.8\.duration: /);
});

void test('docker targets are checked against the engine (read-only); an unreachable engine is named', async () => {
  const saved = process.env.ORDEAL_DOCKER_SOCKET;
  process.env.ORDEAL_DOCKER_SOCKET = '/nonexistent/ordeal-docker.sock';
  try {
    const system = { name: 'web-system', services: { web: { kind: 'docker' as const, container: 'web-1' } }, proxies: {} };
    const issues = await validateFaultTargets([f({ type: 'service_kill', target: 'web' })], { system });
    assert.equal(issues.length, 1);
    assert.match(issues[0]!.message, /service_kill on web \(docker\): the docker engine at \/nonexistent\/ordeal-docker\.sock is not reachable/);
  } finally {
    if (saved === undefined) delete process.env.ORDEAL_DOCKER_SOCKET; else process.env.ORDEAL_DOCKER_SOCKET = saved;
  }
});
