// `ordeal validate` and `ordeal run --dry-run` from the command line, against the
// test stack: exit 0 for a good scenario, 2 for a bad one with every problem by
// path; --live reads every declared service, proxy, source and probe, says what
// each fault would do or why it would be refused, and touches nothing.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ToxiproxyClient } from '../../activities/faults/toxiproxy/index.ts';
import { loadStackConfig, repoRoot, type StackConfig } from '../../scripts/stack/config.ts';
import { readPidFile } from '../../scripts/stack/process.ts';
import { embeddedSystem } from '../../scripts/stack/system-file.ts';

const config = loadStackConfig();
const readPidFileOf = (c: StackConfig, service: string) => readPidFile(join(c.home, 'run', `${service}.pid`));

function ordeal(...args: string[]) {
  const r = spawnSync('bash', [join(repoRoot, 'scripts', 'ordeal'), ...args], { encoding: 'utf8', env: process.env, timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, json: () => JSON.parse(r.stdout) as Record<string, unknown> };
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

void test('a shipped scenario is valid: exit 0, the system it runs against named', () => {
  const r = ordeal('validate', 'db_failure_peak_load', '--json');
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const out = r.json();
  assert.equal(out.valid, true);
  assert.equal(out.system, 'embedded-stack');
  assert.deepEqual(out.problems, []);
  const text = ordeal('validate', 'network_latency_db');
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /network_latency_db\.yaml is valid \(scenario network_latency_db, system embedded-stack\)/);
});

void test('a bad scenario: exit 2 and every problem by its path, the numbers in the messages', () => {
  const r = ordeal('validate', 'db_failure_peak_load', '--json', '--set', 'faults.0.at=95s', '--set', 'ledger.messages=100',
    '--set', 'faults.0.target=acme', '--set', 'load.retry.attempts=40');
  assert.equal(r.status, 2, r.stdout + r.stderr);
  const problems = r.json().problems as { path: string; message: string }[];
  const by = Object.fromEntries(problems.map((p) => [p.path, p.message]));
  assert.deepEqual(Object.keys(by).sort(), ['faults.0.at', 'faults.0.target', 'ledger.messages', 'load.retry.attempts']);
  assert.match(by['faults.0.at']!, /starts at 1m35s|starts at 95s/);
  assert.match(by['ledger.messages']!, /85,000 arrivals, but the ledger has 100 entries/);
  assert.match(by['load.retry.attempts']!, /40 attempts × 5s timeout/);
  assert.match(by['faults.0.target']!, /unknown target "acme".*can be faulted: postgres/);
  const text = ordeal('validate', 'db_failure_peak_load', '--set', 'faults.0.at=95s');
  assert.equal(text.status, 2);
  assert.match(text.stdout, /invalid \(1 problem\):\n {2}faults\.0\.at: /);
});

void test('--live: every declared service, proxy, source and probe reachable; what the fault would do; nothing touched', async () => {
  const toxiproxy = new ToxiproxyClient(`http://127.0.0.1:${config.ports.toxiproxy}`);
  const before = { proxies: await toxiproxy.proxies(), postgres: readPidFileOf(config, 'postgres') };
  const r = ordeal('validate', 'db_failure_peak_load', '--live', '--json');
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const live = r.json().live as { items: { kind: string; name: string; reachable: boolean | null; faults: { would: string; refused?: string }[] }[] };
  const system = embeddedSystem(config);
  for (const name of Object.keys(system.services)) {
    const item = live.items.find((i) => i.kind === 'service' && i.name === name);
    assert.equal(item?.reachable, true, `service ${name}: ${JSON.stringify(item)}`);
  }
  for (const name of Object.keys(system.proxies)) assert.equal(live.items.find((i) => i.kind === 'proxy' && i.name === name)?.reachable, true, name);
  assert.equal(live.items.filter((i) => i.kind === 'source' && i.reachable).length, 3);
  assert.deepEqual(live.items.filter((i) => i.kind === 'probe').map((i) => [i.name, i.reachable]), [['load.target', true], ['recovery.probe', true]]);
  const kill = live.items.find((i) => i.name === 'postgres' && i.kind === 'service')!.faults[0]!;
  assert.match(kill.would, /^SIGKILL every process of postgres's tree at \+30s for 30s, then restart it/);
  assert.equal(kill.refused, undefined);
  // Read-only: same proxies (no toxics), same postgres process.
  const after = await toxiproxy.proxies();
  assert.deepEqual(Object.keys(after).sort(), Object.keys(before.proxies).sort());
  for (const p of Object.values(after)) assert.deepEqual(p.toxics, [], `proxy ${p.name} has no toxics`);
  assert.deepEqual(readPidFileOf(config, 'postgres'), before.postgres);
});

void test('--live: a probe on a port nothing listens on is rejected by its path', async () => {
  const port = await freePort();
  const r = ordeal('validate', 'db_failure_peak_load', '--live', '--set', `recovery.probe=http://127.0.0.1:${port}/ready`);
  assert.equal(r.status, 2, r.stdout + r.stderr);
  assert.match(r.stdout, new RegExp(`recovery\\.probe: probe recovery\\.probe is not reachable: nothing listens on 127\\.0\\.0\\.1:${port}`));
});

void test('run --dry-run on a system file: every declared target listed, each refusal says why, nothing started', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ordeal-dry-'));
  const [apiPort, dbPort, listen] = [await freePort(), await freePort(), await freePort()];
  writeFileSync(join(dir, 'acme.system.yaml'), [
    'name: acme',
    'services:',
    `  api: { kind: process, pid_file: ./api.pid, start: ./run-api, ready: { tcp: "127.0.0.1:${apiPort}" }, url: "http://127.0.0.1:${apiPort}" }`,
    'proxies:',
    `  acme-db: { listen: "127.0.0.1:${listen}", upstream: "127.0.0.1:${dbPort}" }`,
    'defaults:',
    `  reconcile: { postgres: { url: "postgres://postgres@127.0.0.1:${config.ports.postgres_proxy}/payments" } }`,
  ].join('\n'));
  writeFileSync(join(dir, 'acme.yaml'), [
    'name: acme_kill',
    'system: ./acme.system.yaml',
    'ledger: { messages: 1000, seed: 1 }',
    'load: { target: "${services.api.url}", rate: 100, duration: 10s }',
    'faults:',
    '  - { type: service_kill, target: api, at: 2s, duration: 3s }',
    '  - { type: network_latency, target: acme-db, at: 2s, duration: 3s, params: { latency_ms: 200 } }',
    'recovery: { probe: "${services.api.url}/ready" }',
    'reconcile:',
    '  - { source: postgres, query: "select message_id, amount_cents, currency from payments where test_run_id = $1" }',
  ].join('\n'));
  const toxiproxy = new ToxiproxyClient(`http://127.0.0.1:${config.ports.toxiproxy}`);
  const before = Object.keys(await toxiproxy.proxies()).sort();
  const r = ordeal('run', join(dir, 'acme.yaml'), '--dry-run');
  assert.equal(r.status, 2, r.stdout + r.stderr);
  assert.match(r.stdout, /live check against system acme \(nothing was touched\)/);
  assert.match(r.stdout, /service +api +UNREACHABLE +not running: .*api\.pid/);
  assert.match(r.stdout, /fault 0: REFUSED: service_kill on api \(process\): not running/);
  assert.match(r.stdout, new RegExp(`proxy +acme-db +UNREACHABLE +127\\.0\\.0\\.1:${listen} → 127\\.0\\.0\\.1:${dbPort}: Toxiproxy creates it when the run starts; upstream: nothing listens`));
  assert.match(r.stdout, /fault 1: would add a latency toxic \(latency_ms=200\) on proxy acme-db/);
  assert.match(r.stdout, /source +postgres \(postgres\) +reachable/);
  assert.match(r.stdout, /probe +recovery\.probe +UNREACHABLE/);
  assert.doesNotMatch(r.stderr, /started ordeal-/);
  assert.deepEqual(Object.keys(await toxiproxy.proxies()).sort(), before, 'no proxy created');
});
