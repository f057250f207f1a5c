// The system file on paper: every problem by path, placeholders and defaults as a
// scenario sees them, the cross-section checks with their numbers, and the request
// template's foreign-API fields. Pure: no stack needed.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setEnvironment, hasEnvironment, type OrdealEnvironment } from '../../activities/environment/index.ts';
import { loadSystemFile, parseSystem, soakServicesOf, substitute, systemPlaceholders, type SystemFile } from '../../activities/system/index.ts';
import { resolveScenarioDocument } from '../../activities/scenario/index.ts';
import { compileTemplate, majorUnits } from '../../activities/load/template.ts';

const acme = {
  name: 'acme',
  services: {
    api: { kind: 'process', pid_file: './api.pid', start: './run-api', ready: { http: 'http://127.0.0.1:7001/ready' }, url: 'http://127.0.0.1:7001' },
    db: { kind: 'process', match: 'postgres -D .*/acme', ready: { tcp: '127.0.0.1:7432' } },
  },
  proxies: { 'acme-db': { listen: '127.0.0.1:27432', upstream: '127.0.0.1:7432' } },
  defaults: {
    reconcile: { postgres: { url: 'postgres://acme@127.0.0.1:27432/acme' } },
    drain: { brokers: ['127.0.0.1:9092'] },
    placeholders: { api: 'http://127.0.0.1:7001' },
  },
};

// No stack in this process: the scenario resolver falls back to the environment only without system:.
if (!hasEnvironment()) {
  setEnvironment({
    description: 'unit test', temporal: { address: '127.0.0.1:1', namespace: 'default' }, ordealDbUrl: 'postgres://x@127.0.0.1:1/x',
    reportsDir: tmpdir(), toxiproxyUrl: 'http://127.0.0.1:1', stateDir: tmpdir(), host: 'local',
    defaultSystem: () => parseSystem(acme, 'default').ok ? (parseSystem(acme, 'default') as { system: SystemFile }).system : assert.fail('acme invalid'),
    placeholders: () => ({ 'ports.payment_api': '18000' }),
  } satisfies OrdealEnvironment);
}

void test('a valid system file loads; relative pid_file is anchored at the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ordeal-sys-'));
  writeFileSync(join(dir, 'acme.system.yaml'), JSON.stringify(acme));
  const r = loadSystemFile('acme.system.yaml', dir);
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  const api = r.system.services.api!;
  assert.equal(api.kind === 'process' && api.pid_file, join(dir, 'api.pid'));
});

void test('every problem of a bad system file is reported by its path', () => {
  const bad = {
    name: 'Acme!',
    services: {
      two: { kind: 'process', pid_file: '/x.pid', match: 'x' },
      none: { kind: 'process' },
      regex: { kind: 'process', match: '([' },
      unit: { kind: 'process', systemd_unit: 'acme.service', start: 'x' },
      vm: { kind: 'vm' },
    },
    proxies: {
      far: { listen: '10.0.0.1:1', upstream: '127.0.0.1:2' },
      a: { listen: '127.0.0.1:3', upstream: '127.0.0.1:4' },
      b: { listen: '127.0.0.1:3', upstream: '127.0.0.1:5' },
      self: { listen: '127.0.0.1:6', upstream: '127.0.0.1:6' },
    },
    color: 'red',
  };
  const r = parseSystem(bad, 'bad');
  assert.ok(!r.ok);
  const at = (path: string) => r.problems.filter((p) => p.path === path).map((p) => p.message).join(' | ');
  assert.match(at('name'), /lowercase/);
  assert.match(at('color'), /unknown field/);
  assert.match(at('services.two.match'), /identified one way; got pid_file and match/);
  assert.match(at('services.none'), /exactly one of pid_file, match or systemd_unit/);
  assert.match(at('services.regex.match'), /not a valid regular expression/);
  assert.match(at('services.unit.start'), /systemctl start/);
  assert.match(r.problems.filter((p) => p.path.startsWith('services.vm')).map((p) => p.message).join(), /kind: process .* or kind: docker/);
  assert.match(at('proxies.far.listen'), /loopback/);
  // Schema issues first: the cross-field checks run once the shape is right.
  assert.equal(r.problems.some((p) => p.path === 'proxies.b.listen'), false);
  const shaped = parseSystem({ name: 'x', proxies: { a: bad.proxies.a, b: bad.proxies.b, self: bad.proxies.self } }, 'x');
  assert.ok(!shaped.ok);
  assert.deepEqual(shaped.problems.map((p) => p.path).sort(), ['proxies.b.listen', 'proxies.self.upstream']);
});

void test('placeholders: services, proxies and system keys; an unknown one is a problem at its path', () => {
  const sys = (parseSystem(acme, 'acme') as { system: SystemFile }).system;
  const known = systemPlaceholders(sys);
  assert.equal(known['services.api.url'], 'http://127.0.0.1:7001');
  assert.equal(known['proxies.acme-db.listen'], '127.0.0.1:27432');
  const problems: { path: string; message: string }[] = [];
  const out = substitute({ a: '${services.api.url}/pay', b: ['${proxies.acme-db.listen}', '${system.nope}'], c: '{{amount_cents}} ${other}' }, known, [], problems);
  assert.deepEqual(out, { a: 'http://127.0.0.1:7001/pay', b: ['127.0.0.1:27432', '${system.nope}'], c: '{{amount_cents}} ${other}' });
  assert.deepEqual(problems.map((p) => p.path), ['b.1']);
  assert.match(problems[0]!.message, /unknown placeholder \$\{system\.nope\} \(known: \$\{system\.api\}\)/);
});

const scenario = (extra: Record<string, unknown> = {}) => ({
  name: 'acme_kill', system: acme,
  ledger: { messages: 1000, seed: 1 },
  load: { target: '${system.api}', rate: 100, duration: '10s' },
  faults: [{ type: 'service_kill', target: 'api', at: '2s', duration: '3s' }],
  recovery: { probe: '${services.api.url}/ready' },
  drain: { groups: ['g'] },
  reconcile: [{ source: 'postgres', query: 'select message_id, amount_cents, currency from payments where run = $1' }],
  ...extra,
});

void test('a scenario on an inline system: placeholders, reconcile and drain defaults, the system carried as data', () => {
  const r = resolveScenarioDocument({ scenario: scenario() });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  assert.equal(r.scenario.load.target, 'http://127.0.0.1:7001');
  assert.equal(r.scenario.recovery.probe, 'http://127.0.0.1:7001/ready');
  const pgSource = r.scenario.reconcile[0]!;
  assert.equal(pgSource.source === 'postgres' && pgSource.url, 'postgres://acme@127.0.0.1:27432/acme');
  assert.deepEqual(r.scenario.drain.brokers, ['127.0.0.1:9092']);
  assert.equal(r.scenario.system?.name, 'acme');
  // The scenario's own value wins over the system's default.
  const own = resolveScenarioDocument({ scenario: scenario(), overrides: ['reconcile.0.url=postgres://me@127.0.0.1:1/mine'] });
  assert.ok(own.ok);
  assert.equal((own.scenario.reconcile[0] as { url?: string }).url, 'postgres://me@127.0.0.1:1/mine');
});

void test('a bad system inside a scenario is reported under system.*, with the rest of the scenario', () => {
  const r = resolveScenarioDocument({ scenario: scenario({ system: { ...acme, services: { api: { kind: 'process' } } } }), overrides: ['load.rate=fast'] });
  assert.ok(!r.ok);
  const paths = r.problems.map((p) => p.path);
  assert.ok(paths.includes('system.services.api'), paths.join());
  assert.ok(paths.includes('load.rate'), paths.join());
});

void test('cross-section rejections carry their numbers: fault after the load, retries past redelivery, a ledger too small', () => {
  const r = resolveScenarioDocument({ scenario: scenario(), overrides: ['faults.0.at=10s', 'load.retry.attempts=10', 'load.timeout=20s', 'ledger.messages=600'] });
  assert.ok(!r.ok);
  const by = Object.fromEntries(r.problems.map((p) => [p.path, p.message]));
  assert.match(by['faults.0.at']!, /starts at 10s, at or after the end of the load phase \(10s\)/);
  assert.match(by['load.retry.attempts']!, /10 attempts × 20s timeout \+ backoffs = 2\d\d\.\ds per entry, longer than redelivery.timeout \(2m\)/);
  assert.match(by['ledger.messages']!, /100\/s × 10s make 1,000 arrivals, but the ledger has 600 entries: the load would run dry 6s into the phase; use ledger.messages >= 1000/);
  // A warm-up ramp needs fewer entries: 100 × (10 − 4/2) = 800.
  assert.ok(resolveScenarioDocument({ scenario: scenario(), overrides: ['ledger.messages=800', 'load.warmup=4s'] }).ok);
  assert.ok(!resolveScenarioDocument({ scenario: scenario(), overrides: ['ledger.messages=799', 'load.warmup=4s'] }).ok);
});

void test('template: amount in major units as an exact decimal string, currency upper-case', () => {
  assert.equal(majorUnits(12345, 'usd'), '123.45');
  assert.equal(majorUnits(5, 'eur'), '0.05');
  assert.equal(majorUnits(1234, 'jpy'), '1234');
  assert.equal(majorUnits(1234, 'kwd'), '1.234');
  const t = compileTemplate({ method: 'POST', path: '/v1/charges', headers: {}, body: { amount: '{{amount_major}}', currency: '{{currency_upper}}' }, ack_id_field: 'id' });
  const req = t.build({ seq: 0, message_id: 'm', idempotency_key: 'k', amount_cents: 1999, currency: 'usd', customer_id: 'c' }, 'run');
  assert.deepEqual(JSON.parse(req.body!), { amount: '19.99', currency: 'USD' });
});

void test('soak services: the system file\'s defaults.soak.services, else its process services (never Ordeal\'s own); unknown or docker ones refused', () => {
  const sys = (extra: Record<string, unknown> = {}) => {
    const r = parseSystem({ ...acme, services: { ...acme.services, web: { kind: 'docker', container: 'acme-web' }, temporal: { kind: 'process', pid_file: '/t.pid' } }, ...extra }, 'soak');
    return r;
  };
  const plain = sys();
  assert.ok(plain.ok, JSON.stringify(!plain.ok && plain.problems));
  assert.deepEqual(soakServicesOf(plain.system), ['api', 'db'], 'process services only, without temporal');
  const named = sys({ defaults: { soak: { services: ['db'] } } });
  assert.ok(named.ok);
  assert.deepEqual(soakServicesOf(named.system), ['db']);
  const bad = sys({ defaults: { soak: { services: ['db', 'web', 'cache'] } } });
  assert.ok(!bad.ok);
  assert.deepEqual(bad.problems.map((p) => `${p.path}: ${p.message}`), [
    'defaults.soak.services.1: web is a docker service; a soak samples the memory of process services only',
    'defaults.soak.services.2: cache is not a declared service (declared: api, db, web, temporal)',
  ]);
});
