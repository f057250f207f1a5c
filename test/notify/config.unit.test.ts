// Where notify entries come from and what they need, on paper: the system file may
// declare them (its entries first, the scenario's added after), and every variable an
// entry names must be set, or validation refuses the scenario at that field. Pure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveScenarioDocument } from '../../activities/scenario/index.ts';
import { parseSystem } from '../../activities/system/index.ts';

const system = (notify?: unknown[]) => ({
  name: 'acme',
  services: { api: { kind: 'process', pid_file: '/tmp/acme-api.pid', url: 'http://127.0.0.1:7001' } },
  ...(notify ? { notify } : {}),
});

const scenario = (o: { sys?: unknown[]; own?: unknown[] } = {}) => ({
  name: 'acme_pay', system: system(o.sys),
  ledger: { messages: 1000, seed: 1 },
  load: { target: 'http://127.0.0.1:7001', rate: 100, duration: '10s' },
  recovery: { probe: 'http://127.0.0.1:7001/ready' },
  reconcile: [{ source: 'postgres', url: 'postgres://acme@127.0.0.1:7432/acme', query: 'select message_id, amount_cents, currency from payments where run = $1' }],
  ...(o.own ? { notify: o.own } : {}),
});

const ops = { name: 'ops', format: 'pagerduty', routing_key_env: 'ACME_PD_KEY' };
const team = { name: 'team', format: 'slack', url_env: 'ACME_SLACK_URL', on: ['FAIL', 'PASS'] };
const hook = { format: 'json', url: 'http://127.0.0.1:9/hook' };
const env = { ACME_PD_KEY: 'k', ACME_SLACK_URL: 'http://127.0.0.1:9/slack' };

void test('a system file may declare notify entries; a bad one is a problem at its path', () => {
  const ok = parseSystem(system([ops]), 'acme');
  assert.ok(ok.ok, JSON.stringify(!ok.ok && ok.problems));
  assert.deepEqual(ok.system.notify?.map((t) => [t.name, t.format, t.on]), [['ops', 'pagerduty', ['FAIL', 'ERROR', 'ABORTED']]]);
  const bad = parseSystem(system([{ format: 'pagerduty' }, { format: 'teams', url: 'http://127.0.0.1:9/x' }]), 'acme');
  assert.ok(!bad.ok);
  assert.deepEqual(bad.problems.map((p) => p.path).sort(), ['notify.0.routing_key_env', 'notify.1.format']);
  // Inside a scenario: under system.*, beside the scenario's own problems.
  const r = resolveScenarioDocument({ scenario: scenario({ sys: [{ format: 'pagerduty' }], own: [{ format: 'json' }] }) }, { env });
  assert.ok(!r.ok);
  assert.deepEqual(r.problems.map((p) => p.path).sort(), ['notify.0.url', 'system.notify.0.routing_key_env']);
});

void test('a run notifies the system\'s entries first, then the scenario\'s own', () => {
  const both = resolveScenarioDocument({ scenario: scenario({ sys: [ops], own: [team, hook] }) }, { env });
  assert.ok(both.ok, JSON.stringify(!both.ok && both.problems));
  assert.deepEqual(both.scenario.notify.map((t) => t.name ?? t.format), ['ops', 'team', 'json']);
  const onlySystem = resolveScenarioDocument({ scenario: scenario({ sys: [ops] }) }, { env });
  assert.ok(onlySystem.ok);
  assert.deepEqual(onlySystem.scenario.notify.map((t) => t.name), ['ops']);
  const onlyScenario = resolveScenarioDocument({ scenario: scenario({ own: [hook] }) }, { env });
  assert.ok(onlyScenario.ok);
  assert.equal(onlyScenario.scenario.notify.length, 1);
});

void test('a variable a notify entry names must be set: refused at the field, saying what it should hold', () => {
  const r = resolveScenarioDocument({ scenario: scenario({ sys: [ops], own: [hook, team] }) }, { env: { ACME_SLACK_URL: '' } });
  assert.ok(!r.ok);
  const by = Object.fromEntries(r.problems.map((p) => [p.path, p.message]));
  assert.deepEqual(Object.keys(by).sort(), ['notify.1.url_env', 'system.notify.0.routing_key_env']);
  assert.equal(by['system.notify.0.routing_key_env'], 'environment variable ACME_PD_KEY is not set: expected the PagerDuty Events v2 routing key of notification ops, '
    + 'in the environment of the orchestrator worker that sends it');
  assert.match(by['notify.1.url_env']!, /^environment variable ACME_SLACK_URL is not set: expected the webhook URL \(http:\/\/ or https:\/\/\) of notification team/);
  // The variable's value never appears in a problem; with both set the scenario is valid.
  assert.ok(resolveScenarioDocument({ scenario: scenario({ sys: [ops], own: [hook, team] }) }, { env }).ok);
  // A client whose environment is not the worker's skips the check (the run's validation on the worker makes it).
  assert.ok(resolveScenarioDocument({ scenario: scenario({ sys: [ops], own: [team] }) }, { env: false }).ok);
});
