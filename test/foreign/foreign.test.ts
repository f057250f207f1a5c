// A user's own system, proved end to end through its system file: acme-pay (Go, its
// own PostgreSQL, started here the way its owner starts it) is killed mid-load and
// restarted by Ordeal from the declaration alone. The twin with the seeded defect
// (idempotency in memory) charges twice after the restart → FAIL with duplicates;
// the fixed twin → PASS. A network_latency fault on a declared proxy shows in the
// latency timeline; the dry run (validate --live) lists every target first.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { stringify } from 'yaml';
import { repoRoot } from '../../scripts/stack/config.ts';
import type { SystemFile } from '../../activities/system/index.ts';
import { experimentRig, leasesOf } from '../experiment/harness.ts';
import { findService } from '../../activities/faults/process/index.ts';
import { acmeHome, acmePayDecl, acmePorts, startAcmeDb, startService, stopAcmeDb, stopService, writeSystemFile } from './acme.ts';

// Work done after the commit and before the answer (a fraud-score call): what leaves
// committed-but-unanswered charges at a kill. ~rate × settle ≈ 9 such charges per kill.
const SETTLE_MS = 60;
const RATE = 150;
const pay = acmePayDecl({ name: 'acme-pay', port: acmePorts.pay, bug: true, settleMs: SETTLE_MS });
const fixed = acmePayDecl({ name: 'acme-pay-fixed', port: acmePorts.payFixed, bug: false, settleMs: SETTLE_MS });
const system: SystemFile = {
  name: 'acme',
  services: { 'acme-pay': pay, 'acme-pay-fixed': fixed },
  // Clients reach the fixed twin through this proxy in the latency scenario.
  proxies: { 'acme-edge': { listen: `127.0.0.1:${acmePorts.payProxy}`, upstream: `127.0.0.1:${acmePorts.payFixed}` } },
  defaults: { placeholders: { db_url: `postgres://postgres@127.0.0.1:${acmePorts.db}/acme` } },
};

const request = {
  method: 'POST', path: '/v1/charges',
  headers: { 'idempotency-key': '{{idempotency_key}}' },
  body: { reference: '{{message_id}}', amount: '{{amount_major}}', currency: '{{currency_upper}}', customer: '{{customer_id}}', metadata: { test_run_id: '{{run_id}}' } },
  ack_id_field: 'id',
};
const reconcile = [{
  source: 'postgres', url: '${system.db_url}',
  query: 'select reference as message_id, (amount * 100)::bigint as amount_cents, lower(currency) as currency from charges where run_id = $1',
}];

/** A scenario file as its owner would keep it beside the system file. */
function scenarioFile(name: string, doc: Record<string, unknown>): string {
  const path = join(acmeHome, `${name}.yaml`);
  writeFileSync(path, stringify({ name, system: './acme.system.yaml', ledger: { messages: RATE * 12, seed: 23 }, ...doc, reconcile }));
  return path;
}

const killScenario = (service: 'acme-pay' | 'acme-pay-fixed') => scenarioFile(`acme_kill_${service.replace(/-/g, '_')}`, {
  load: { target: `\${services.${service}.url}`, rate: RATE, duration: '12s', warmup: 0, thresholds: {}, request, retry: { attempts: 5, backoff: '200ms', same_key: true } },
  faults: [{ type: 'service_kill', target: service, at: '4s', duration: '2s' }],
  recovery: { probe: `\${services.${service}.url}/healthz`, timeout: '30s' },
});

let rig: Awaited<ReturnType<typeof experimentRig>> | undefined;
const run = async (scenario: string) => (await rig!.ordeal.start({ scenario, loadTaskQueue: rig!.loadTaskQueue })).result();

before(async () => {
  writeSystemFile(system);
  await startAcmeDb();
  await Promise.all([startService('acme-pay', pay), startService('acme-pay-fixed', fixed)]);
  rig = await experimentRig('test-foreign');
});
after(async () => {
  await rig?.close();
  await stopService('acme-pay', pay);
  await stopService('acme-pay-fixed', fixed);
  await stopAcmeDb();
});

void test('the dry run lists every target of the system file and touches nothing', () => {
  const pids = () => [findService('acme-pay', pay)?.pid, findService('acme-pay-fixed', fixed)?.pid];
  const before = pids();
  const r = spawnSync('bash', [join(repoRoot, 'scripts', 'ordeal'), 'validate', '--live', killScenario('acme-pay')], { encoding: 'utf8', env: process.env, timeout: 120_000 });
  const out = r.stdout + r.stderr;
  assert.equal(r.status, 0, out);
  for (const line of [/service\s+acme-pay\s+reachable/, /service\s+acme-pay-fixed\s+reachable/, /proxy\s+acme-edge\s+.*127\.0\.0\.1:\d+ → 127\.0\.0\.1:\d+/,
    /source\s+postgres/, /probe\s+load\.target\s+reachable/, /probe\s+recovery\.probe\s+reachable/, /fault 0: .*would SIGKILL every process of acme-pay's tree/]) {
    assert.match(out, line);
  }
  assert.deepEqual(pids(), before, 'no service was touched');
});

void test('killed and restarted by Ordeal mid-load: the in-memory idempotency defect FAILs with duplicates', async (t) => {
  const r = await run(killScenario('acme-pay'));
  assert.equal(r.verdict, 'FAIL', r.reasons.join('\n'));
  const pg = r.report.reconcile!.sources.find((s) => s.source === 'postgres')!;
  t.diagnostic(`duplicated ${pg.classes.duplicated.count}, ok ${pg.classes.ok.count}; ${r.reasons.join(' | ')}`);
  assert.ok(pg.classes.duplicated.count > 0, `duplicated: ${JSON.stringify(pg.classes.duplicated)}; ${r.reasons.join('\n')}`);
  assert.ok(r.reasons.some((x) => /postgres: \d+ duplicated/.test(x)), r.reasons.join('\n'));
  assert.equal(pg.classes.lost.count, 0, 'nothing acknowledged was lost');
  const fault = r.report.faults[0]!;
  assert.equal(fault.handle.backend, 'process');
  assert.ok(fault.evidence.some((e) => e.ok && /acme-pay pid \d+ gone/.test(e.description)), JSON.stringify(fault.evidence));
  assert.match(fault.revert?.detail ?? '', /restarted acme-pay by its start command/);
  assert.deepEqual((await leasesOf(r.report.run_id)).map((l) => l.state), ['reverted']);
});

void test('the fixed twin under the same kill: PASS', async () => {
  const r = await run(killScenario('acme-pay-fixed'));
  assert.equal(r.verdict, 'PASS', r.reasons.join('\n'));
  const pg = r.report.reconcile!.sources.find((s) => s.source === 'postgres')!;
  assert.equal(pg.classes.duplicated.count, 0);
  assert.ok(pg.classes.ok.count >= RATE * 10, `ok: ${pg.classes.ok.count}`);
  assert.match(r.report.faults[0]!.revert?.detail ?? '', /restarted acme-pay-fixed by its start command/);
});

void test('network_latency on a declared proxy: the run creates it, the latency shows in the timeline, the proxy goes at the end', async () => {
  const edge = `http://127.0.0.1:${acmePorts.payProxy}`;
  const file = scenarioFile('acme_edge_latency', {
    load: { target: 'http://${proxies.acme-edge.listen}', rate: 100, duration: '10s', warmup: 0, thresholds: {}, request },
    faults: [{ type: 'network_latency', target: 'acme-edge', at: '3s', duration: '4s', params: { latency_ms: 400 } }],
    recovery: { probe: `${edge}/healthz`, timeout: '30s' },
  });
  const r = await run(file);
  assert.equal(r.verdict, 'PASS', r.reasons.join('\n'));
  const timeline = r.report.load!.timeline;
  const during = timeline.filter((p) => p.t >= 4 && p.t < 7 && p.ok > 0);
  const before = timeline.filter((p) => p.t < 3 && p.ok > 0);
  assert.ok(during.length >= 2 && during.every((p) => p.p50_ms >= 380), `p50 ≥ 400 ms while the toxic is on: ${JSON.stringify(during.map((p) => [p.t, p.p50_ms]))}`);
  assert.ok(before.length >= 2 && before.every((p) => p.p50_ms < 250), `before: ${JSON.stringify(before.map((p) => [p.t, p.p50_ms]))}`);
  assert.match(r.report.faults[0]!.handle.revert.proxy as string, /^ordeal-.*-acme-edge$/);
  await assert.rejects(fetch(`${edge}/healthz`), 'the run proxy was removed when the run ended');
});
