// Faults on a system that Ordeal did not start: acme-pay (Go) and its own PostgreSQL,
// declared in a system file. Kill, pause, restart, leases, the watchdog and the run
// proxies, all through the fault engine with the declarations as its only knowledge.
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import {
  closeFaults, createRunProxies, faultEvidence, faultStore, injectFault, listOpenFaults, removeRunProxies, revertFault, runProxyName,
  startWatchdog, sweepExpiredRunProxies, validateFaultTargets
} from '../../activities/faults/index.ts';
import type { SystemFile } from '../../activities/system/index.ts';
import { ToxiproxyClient } from '../../activities/faults/toxiproxy/client.ts';
import { findService, matchingRoots } from '../../activities/faults/process/index.ts';
import { loadStackConfig } from '../../scripts/stack/config.ts';
import {
  acmeHome, acmePayDecl, acmePorts, acmeSystem, charge, startAcmeDb, startService, stopAcmeDb, stopService, withAcmeDb,
} from './acme.ts';

const config = loadStackConfig();
const toxiproxy = new ToxiproxyClient(`http://127.0.0.1:${config.ports.toxiproxy}`);
const system = acmeSystem();
const pay = system.services['acme-pay']! as ReturnType<typeof acmePayDecl>;
const fixed = system.services['acme-pay-fixed']! as ReturnType<typeof acmePayDecl>;

before(async () => {
  await startAcmeDb();
  await Promise.all([startService('acme-pay', pay), startService('acme-pay-fixed', fixed)]);
});

after(async () => {
  const open = (await listOpenFaults()).filter((l) => l.runId.startsWith('foreign-'));
  for (const l of open) await revertFault(l.handle, 'test-cleanup').catch(() => {});
  await stopService('acme-pay', pay);
  await stopService('acme-pay-fixed', fixed);
  await stopAcmeDb();
  await closeFaults();
  assert.deepEqual(open.map((l) => l.faultId), [], 'every fault was reverted by its test');
});

const spec = (type: string, target: string, extra: Record<string, unknown> = {}) => ({ type, target, at: 0, duration: '10s', ...extra }) as never;

void test('acme-pay keeps idempotency while it lives; the seeded defect charges twice across a restart, the fixed twin never', async () => {
  const run = `foreign-idem-${Date.now()}`;
  const body = { reference: `${run}-1`, amount: '12.34', currency: 'USD', run };
  for (const [name, decl, bug] of [['acme-pay', pay, true], ['acme-pay-fixed', fixed, false]] as const) {
    const first = await charge(decl.url!, `${name}-${run}`, body);
    const again = await charge(decl.url!, `${name}-${run}`, body);
    assert.deepEqual([first.status, again.status], [201, 200], `${name}: a retry with the same key replays`);
    assert.equal(again.json.id, first.json.id);
    await stopService(name, decl);
    await startService(name, decl);
    const afterRestart = await charge(decl.url!, `${name}-${run}`, body);
    assert.equal(afterRestart.status, bug ? 201 : 200, `${name}: after a restart the key is ${bug ? 'forgotten (the defect)' : 'remembered'}`);
  }
  const rows = await withAcmeDb('acme', (c) => c.query<{ n: string; idempotency_key: string }>(
    'SELECT idempotency_key, count(*) AS n FROM charges WHERE run_id = $1 GROUP BY 1 ORDER BY 1', [run]));
  const counts = Object.fromEntries(rows.rows.map((r) => [r.idempotency_key.split('-foreign')[0], Number(r.n)]));
  assert.deepEqual(counts, { 'acme-pay': 2, 'acme-pay-fixed': 1 }, 'rows per key: the defect charged twice, the fixed twin once');
  const bad = await fetch(`${pay.url!}/v1/charges`, { method: 'POST', headers: { 'idempotency-key': 'k' }, body: JSON.stringify({ reference: 'r', amount: '1234', currency: 'usd' }) });
  assert.equal(bad.status, 422, 'cents and lower-case currency are not its API');
});

void test('service_kill by pid file: the tree SIGKILLed with evidence, restarted by its start command until ready; revert is idempotent', async () => {
  const before = findService('acme-pay', pay)!;
  const handle = await injectFault({ runId: 'foreign-kill', spec: spec('service_kill', 'acme-pay'), leaseMs: 120_000, system });
  assert.equal(handle.backend, 'process');
  assert.deepEqual(JSON.parse(JSON.stringify(handle)), handle, 'the handle is plain data');
  assert.equal(JSON.parse(String(handle.revert.decl)).pid_file, pay.pid_file, 'the handle carries the declaration');
  const evidence = await faultEvidence(handle);
  assert.ok(evidence.length === 2 && evidence.every((e) => e.ok), JSON.stringify(evidence));
  assert.match(evidence[0]!.description, new RegExp(`acme-pay pid ${before.pid} gone \\(found by pid file .*acme-pay\\.pid\\)`));
  assert.match(evidence[1]!.description, /refuses connections/);
  await assert.rejects(fetch(`${pay.url!}/healthz`), 'killed: nothing answers');

  const r = await revertFault(handle);
  assert.deepEqual([r.reverted, r.alreadyReverted], [true, false]);
  assert.match(r.detail ?? '', /restarted acme-pay by its start command \(pid \d+; GET .*\/healthz → 200\), ready after \d+\.\d s/);
  const now = findService('acme-pay', pay)!;
  assert.notEqual(now.pid, before.pid, 'a new process');
  assert.equal((await fetch(`${pay.url!}/healthz`)).status, 200);
  assert.ok((await faultEvidence(handle)).every((e) => !e.ok), 'evidence no longer shows the fault');
  const again = await revertFault(handle);
  assert.deepEqual([again.reverted, again.alreadyReverted], [true, true]);
});

void test('database_kill on acme\'s own PostgreSQL (postmaster.pid), restarted by pg_ctl; acme-pay charges again', async () => {
  const handle = await injectFault({ runId: 'foreign-db', spec: spec('database_kill', 'acme-db'), leaseMs: 120_000, system });
  const evidence = await faultEvidence(handle);
  assert.ok(evidence.every((e) => e.ok), JSON.stringify(evidence));
  assert.equal((await fetch(`${fixed.url!}/healthz`)).status, 503, 'the service sees its database gone');
  const r = await revertFault(handle);
  assert.match(r.detail ?? '', /restarted acme-db .*TCP 127\.0\.0\.1:\d+ accepts/);
  const run = `foreign-db-${Date.now()}`;
  let status = 0;
  for (let i = 0; i < 50 && status !== 201; i++) {
    status = (await charge(fixed.url!, run, { reference: run, amount: '1.00', currency: 'EUR', run })).status;
    if (status !== 201) await new Promise((res) => setTimeout(res, 100));
  }
  assert.equal(status, 201, 'acme-pay-fixed charges again on the restarted database');
});

void test('match: a pattern must name exactly one process tree (else refused with the matches); process_pause through it, SIGCONT on revert', async () => {
  const ambiguous: SystemFile = { ...system, services: { both: { kind: 'process', match: `acme-pay-[0-9a-f]{12}$`, start: 'true' } } };
  const roots = matchingRoots(/acme-pay-[0-9a-f]{12}$/);
  assert.equal(roots.length, 2, `two acme-pay processes run: ${JSON.stringify(roots)}`);
  await assert.rejects(injectFault({ runId: 'foreign-match', spec: spec('process_pause', 'both'), leaseMs: 60_000, system: ambiguous }),
    (err: Error) => /matches 2 process trees, expected exactly one: pid \d+ ".*"; pid \d+ ".*"/.test(err.message));

  // The fixed twin is the only one whose environment... no: patterns see command lines; pick the db by its data dir.
  const dbByMatch: SystemFile = { ...system, services: { 'acme-db': { kind: 'process', match: `postgres -D ${join(acmeHome, 'pgdata')}` } } };
  const [validation] = [await validateFaultTargets([spec('process_pause', 'acme-db')], { live: true, system: dbByMatch })];
  assert.deepEqual(validation, []);
  const handle = await injectFault({ runId: 'foreign-match', spec: spec('process_pause', 'acme-db'), leaseMs: 60_000, system: dbByMatch });
  const ev = await faultEvidence(handle);
  assert.ok(ev[0]?.ok, JSON.stringify(ev));
  assert.match(ev[0]!.description, /state T \(stopped\)/);
  const c = new pg.Client({ host: '127.0.0.1', port: acmePorts.db, user: 'postgres', database: 'acme', connectionTimeoutMillis: 800 });
  c.on('error', () => {});
  await assert.rejects(c.connect(), 'a paused database accepts TCP but never answers');
  await c.end().catch(() => {});
  const r = await revertFault(handle);
  assert.deepEqual([r.reverted, r.alreadyReverted], [true, false]);
  assert.equal((await withAcmeDb('acme', (x) => x.query('SELECT 1 AS one'))).rows[0].one, 1);
});

void test('refused without touching anything: undeclared targets and proxies, a kill that could not be reverted, the worker itself', async () => {
  const issues = await validateFaultTargets([
    spec('service_kill', 'payment-api'),
    spec('network_latency', 'postgres'),
    spec('service_kill', 'nostart'),
    spec('service_kill', 'self'),
  ], { live: true, system: { ...system, services: { ...system.services, nostart: { kind: 'process', pid_file: pay.pid_file! }, self: { kind: 'process', match: 'service-faults\\.test\\.ts', start: 'true' } } } });
  const text = issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  assert.equal(text.length, 4, text.join('\n'));
  assert.match(text[0]!, /faults\.0\.target: .*unknown target "payment-api" for the process backend; services of system acme that can be faulted: acme-pay, acme-pay-fixed, acme-db/);
  assert.match(text[1]!, /faults\.1\.target: .*unknown target "postgres".*proxies declared by system acme: acme-db/);
  assert.match(text[2]!, /faults\.2\.target: .*no start command, so a kill could not be reverted/);
  assert.match(text[3]!, /faults\.3\.target: .*self.*not running/, 'the test runner matches its own pattern, and is never a target');
});

void test('an expired lease on a declared service is reverted by the watchdog, which restarts it by its start command', async () => {
  const before = findService('acme-pay-fixed', fixed)!;
  const handle = await injectFault({ runId: 'foreign-watchdog', spec: spec('service_kill', 'acme-pay-fixed'), leaseMs: 500, system });
  await new Promise((r) => setTimeout(r, 600));
  const watchdog = await startWatchdog({ port: null, intervalMs: 60_000 });
  await watchdog.close();
  const now = findService('acme-pay-fixed', fixed);
  assert.ok(now && now.pid !== before.pid, 'restarted by the watchdog');
  assert.equal((await faultStore().get(handle.faultId))?.revertedBy, 'watchdog');
  assert.equal((await fetch(`${fixed.url!}/healthz`)).status, 200);
});

void test('systemd_unit: MainPID killed, restarted by systemctl start (a stand-in systemctl: systemd is not PID 1 here)', async (t) => {
  // PID 1 here is not systemd (systemctl: "System has not been booted with systemd"),
  // so the real systemctl cannot answer; a small script with systemctl's interface
  // (show --property=MainPID --value, start) stands in for it, driving
  // acme-pay-fixed through its pid file, and logs every command it is given.
  const fake = join(acmeHome, 'systemctl');
  const calls = join(acmeHome, 'systemctl.calls');
  writeFileSync(calls, '');
  writeFileSync(fake, `#!/bin/sh
echo "$*" >> ${calls}
case "$1" in
  show) if [ -f ${fixed.pid_file} ] && kill -0 "$(cat ${fixed.pid_file})" 2>/dev/null; then cat ${fixed.pid_file}; else echo 0; fi ;;
  start) cd ${acmeHome} && ${Object.entries(fixed.env!).map(([k, v]) => `${k}=${v}`).join(' ')} setsid sh -c '${fixed.start!}' </dev/null >/dev/null 2>&1 & ;;
  *) echo "unsupported: $*" >&2; exit 1 ;;
esac
`);
  chmodSync(fake, 0o755);
  const unit: SystemFile = { ...system, services: { acme: { kind: 'process', systemd_unit: 'acme-pay.service', ready: fixed.ready! } } };
  const real = await validateFaultTargets([spec('service_kill', 'acme')], { live: true, system: unit });
  assert.match(real[0]?.message ?? '', /cannot ask systemd about unit acme-pay\.service/, 'the real systemctl refuses clearly here');
  process.env.ORDEAL_SYSTEMCTL = fake;
  t.after(() => { delete process.env.ORDEAL_SYSTEMCTL; });
  const before = findService('acme-pay-fixed', fixed)!;
  const issued = () => readFileSync(calls, 'utf8').split('\n').filter(Boolean);
  const show = 'show --property=MainPID --value acme-pay.service';
  const handle = await injectFault({ runId: 'foreign-systemd', spec: spec('service_kill', 'acme'), leaseMs: 60_000, system: unit });
  assert.equal(handle.revert.pid, before.pid, 'the unit\'s MainPID');
  assert.match(handle.revert.found_by as string, /systemd unit acme-pay\.service/);
  // The kill is a SIGKILL of MainPID's tree (a crash), not `systemctl kill` or `stop` (a shutdown).
  const injected = issued();
  assert.ok(injected.length > 0 && injected.every((c) => c === show), `inject only asks for MainPID: ${JSON.stringify(injected)}`);
  const r = await revertFault(handle);
  assert.match(r.detail ?? '', /by systemctl start acme-pay\.service/);
  assert.notEqual(findService('acme-pay-fixed', fixed)!.pid, before.pid);
  const reverted = issued().slice(injected.length);
  assert.ok(reverted.length >= 2, `revert: ${JSON.stringify(reverted)}`);
  assert.deepEqual(reverted.filter((c) => c !== show), ['start acme-pay.service'], 'revert starts the unit once, and only asks for MainPID otherwise');
  assert.ok(reverted.indexOf('start acme-pay.service') > 0, 'it checks the unit is down (MainPID 0) before starting it');
  assert.equal(reverted.at(-1), show, 'and finds the new MainPID after');
  assert.equal(issued().some((c) => /^(stop|kill|restart)\b/.test(c)), false, 'never stop, kill or restart');
});

void test('run proxies: created per run (idempotent), a network_latency fault through a declared proxy, removed at the end; the watchdog removes a dead run\'s', async () => {
  const runId = `foreign-proxy-${Date.now()}`;
  const name = runProxyName(runId, 'acme-db');
  const made = await createRunProxies({ runId, proxies: system.proxies, leaseMs: 60_000 });
  assert.deepEqual(made.map((p) => [p.name, p.proxyName, p.state]), [['acme-db', name, 'created']]);
  const again = await createRunProxies({ runId, proxies: system.proxies, leaseMs: 60_000 });
  assert.deepEqual(again.map((p) => p.state), ['existing'], 'a retried creation finds its proxy');
  assert.equal((await toxiproxy.proxy(name)).upstream, `127.0.0.1:${acmePorts.db}`);

  const timeQuery = async () => {
    const c = new pg.Client({ host: '127.0.0.1', port: acmePorts.dbProxy, user: 'postgres', database: 'acme' });
    await c.connect();
    const t0 = performance.now();
    await c.query('SELECT 1');
    const ms = performance.now() - t0;
    await c.end();
    return ms;
  };
  assert.ok((await timeQuery()) < 100);
  const handle = await injectFault({ runId, spec: spec('network_latency', 'acme-db', { params: { latency_ms: 300 } }), leaseMs: 60_000, system });
  assert.equal(handle.revert.proxy, name, 'the toxic goes on the run\'s proxy');
  assert.ok((await faultEvidence(handle)).every((e) => e.ok));
  const slow = await timeQuery();
  assert.ok(slow >= 290, `a query through the proxy takes the latency (${slow.toFixed(0)} ms)`);
  await revertFault(handle);
  assert.ok((await timeQuery()) < 100);
  assert.deepEqual(await removeRunProxies(runId), [name]);
  assert.equal((await toxiproxy.proxies())[name], undefined);
  assert.deepEqual(await removeRunProxies(runId), [], 'removing twice is a no-op');

  // A run that dies keeps its proxy only until its lease runs out.
  const dead = `foreign-dead-${Date.now()}`;
  await createRunProxies({ runId: dead, proxies: system.proxies, leaseMs: 300 });
  assert.ok((await toxiproxy.proxies())[runProxyName(dead, 'acme-db')]);
  await new Promise((r) => setTimeout(r, 400));
  // This sweep or the stack's own watchdog (the same code, every second) removes it.
  assert.deepEqual((await sweepExpiredRunProxies()).errors, []);
  assert.equal((await toxiproxy.proxies())[runProxyName(dead, 'acme-db')], undefined);
  const rows = await faultStore().runProxies({ runId: dead, all: true });
  assert.deepEqual(rows.map((r) => [r.state, r.removedBy]), [['removed', 'watchdog']]);

  await assert.rejects(createRunProxies({ runId: 'x', proxies: { bad: { listen: '10.0.0.1:5432', upstream: '127.0.0.1:1' } }, leaseMs: 1000 }),
    /proxies\.bad\.listen: 10\.0\.0\.1:5432 is not a loopback address/);
});

void test('a declared proxy that routes like an existing one (the embedded stack\'s own) is adopted, never removed by the run', async () => {
  const stack = Object.values(await toxiproxy.proxies()).find((p) => !p.name.startsWith('ordeal-'));
  assert.ok(stack, 'the test stack declares proxies');
  const runId = `foreign-adopt-${Date.now()}`;
  const made = await createRunProxies({ runId, proxies: { db: { listen: stack.listen, upstream: stack.upstream } }, leaseMs: 60_000 });
  assert.deepEqual(made.map((p) => [p.proxyName, p.state]), [[stack.name, 'adopted']]);
  assert.deepEqual(await removeRunProxies(runId), []);
  assert.ok((await toxiproxy.proxies())[stack.name], 'the stack\'s proxy stays');
});
