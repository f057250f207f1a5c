// Notifications against a local receiver (a real HTTP server standing in for Slack,
// PagerDuty and a generic webhook, which cannot be reached from here): every format's
// body is checked, a receiver that keeps failing is retried and becomes a note in the
// report, the verdict stays what it was, and no secret reaches a report or a log line.
import { createServer, type Server } from 'node:http';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { createNotifyActivities, notifyTargetSchema, redactUrl, targetsFor, type NotifyTarget } from '../../activities/notify/index.ts';
import { writeReportTo, type ExperimentReport } from '../../activities/report/index.ts';
import type { OrdealClient } from '../../scripts/client/index.ts';
import { repoRoot } from '../../scripts/stack/config.ts';
import { embeddedSystem } from '../../scripts/stack/system-file.ts';
import type { RunningWorkers } from '../../workers/index.ts';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { client, config, inProcessWorkers, scheduledActivities } from '../experiment/harness.ts';

interface Received { path: string; body: Record<string, unknown> }
const received: Received[] = [];
let receiver: Server;
let base = '';
const SLACK_TOKEN = 'xoxb-SECRET-slack-path-token-4711';
const PD_KEY = 'pd-routing-key-SECRET-0815';

before(async () => {
  receiver = createServer((req, res) => {
    let data = '';
    req.on('data', (c: Buffer) => { data += c.toString(); });
    req.on('end', () => {
      received.push({ path: req.url ?? '', body: JSON.parse(data || '{}') as Record<string, unknown> });
      if (req.url?.startsWith('/down')) { res.writeHead(503).end('receiver down'); return; }
      res.writeHead(req.url === '/pd' ? 202 : 200, { 'content-type': 'application/json' }).end('{"status":"success"}');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const a = receiver.address();
  base = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
});
after(() => { receiver?.close(); });

const bodiesAt = (path: string) => received.filter((r) => r.path === path).map((r) => r.body);

void test('notify entries are validated: a field-level error for each mistake', () => {
  const bad = [
    [{ format: 'pagerduty' }, /routing_key_env/],
    [{ format: 'json' }, /needs url or url_env/],
    [{ format: 'slack', url: 'http://127.0.0.1:1/x', url_env: 'X' }, /not both/],
    [{ format: 'json', url: 'ftp://127.0.0.1/x' }, /http/],
    [{ format: 'json', url: 'http://127.0.0.1:1/x', on: ['MAYBE'] }, /on/],
    [{ format: 'teams', url: 'http://127.0.0.1:1/x' }, /format/],
  ] as const;
  for (const [input, re] of bad) {
    const r = notifyTargetSchema.safeParse(input);
    assert.equal(r.success, false, JSON.stringify(input));
    assert.match(JSON.stringify(r.error!.issues), re, JSON.stringify(input));
  }
  const ok = notifyTargetSchema.parse({ format: 'pagerduty', routing_key_env: 'PD_KEY' });
  assert.deepEqual(ok.on, ['FAIL', 'ERROR', 'ABORTED']);
  // Default triggers: a PASS notifies nobody, the other verdicts everybody.
  assert.equal(targetsFor([ok], 'PASS').length, 0);
  for (const v of ['FAIL', 'ERROR', 'ABORTED'] as const) assert.equal(targetsFor([ok], v).length, 1);
  assert.equal(redactUrl(`https://hooks.example.test/services/${SLACK_TOKEN}?a=b`), 'https://hooks.example.test/…');
});

let ordeal: OrdealClient;
let workers: RunningWorkers;
let loadTaskQueue: string;
let passed: ExperimentReport;

void test('a real run notifies every format; a receiver that keeps failing is a note, the verdict stays PASS; no secret leaks', async () => {
  process.env.ORDEAL_TEST_SLACK_URL = `${base}/slack/services/${SLACK_TOKEN}`;
  process.env.ORDEAL_TEST_PD_KEY = PD_KEY;
  const w = await inProcessWorkers('test-notify');
  workers = w.workers;
  loadTaskQueue = w.loadTaskQueue;
  ordeal = await client(w.taskQueue);
  const targets = [
    { name: 'hook', format: 'json', url: `${base}/json`, on: ['PASS'] },
    { name: 'chat', format: 'slack', url_env: 'ORDEAL_TEST_SLACK_URL', on: ['PASS'] },
    { name: 'pager', format: 'pagerduty', url: `${base}/pd`, routing_key_env: 'ORDEAL_TEST_PD_KEY', on: ['PASS'] },
    { name: 'broken', format: 'json', url: `${base}/down/${SLACK_TOKEN}`, on: ['PASS'], retry: { attempts: 3, backoff: '100ms' } },
  ];
  // The system file notifies too (the embedded stack's, plus a notify entry): its entries first, then the scenario's.
  const systemFile = join(mkdtempSync(join(tmpdir(), 'ordeal-notify-sys-')), 'ops.system.yaml');
  writeFileSync(systemFile, JSON.stringify({ ...embeddedSystem(config), notify: [{ name: 'ops', format: 'json', url: `${base}/sys`, on: ['PASS'] }] }));
  const h = await ordeal.start({ scenario: 'db_failure_peak_load', loadTaskQueue, overrides: [
    'faults=[]', 'ledger.messages=400', 'load.rate=80', 'load.duration=5s', 'load.warmup=0', 'load.thresholds={}',
    'drain.timeout=45s', `notify=${JSON.stringify(targets)}`, `system=${systemFile}`] });
  const r = await h.result();
  assert.equal(r.verdict, 'PASS', r.reasons.join('\n'));
  passed = r.report;

  const [json] = bodiesAt('/json');
  assert.ok(json, `the json receiver got nothing: ${JSON.stringify(received.map((x) => x.path))}`);
  assert.equal(json.scenario, 'db_failure_peak_load');
  assert.equal(json.run_id, r.run_id);
  assert.equal(json.verdict, 'PASS');
  const counts = json.counts as Record<string, Record<string, number>>;
  assert.deepEqual(Object.keys(counts).sort(), ['kafka', 'postgres', 'stripe']);
  assert.equal(counts.postgres!.ok, 400);
  assert.equal(counts.postgres!.lost, 0);
  assert.deepEqual((json.money_at_risk as Record<string, Record<string, number>>).postgres, {});
  const links = json.links as Record<string, string>;
  assert.equal(links.report, r.paths!.html);
  assert.match(links.temporal_ui!, new RegExp(`/namespaces/default/workflows/${r.workflow_id}$`));
  assert.match(links.dashboard!, new RegExp(`/d/ordeal-load-overview\\?from=\\d+&to=\\d+&var-scenario=db_failure_peak_load&var-run_id=${r.run_id}`));

  const [sys] = bodiesAt('/sys');
  assert.ok(sys, 'the system file\'s target got its message');
  assert.equal(sys.run_id, r.run_id);
  assert.equal(sys.verdict, 'PASS');

  const [slack] = bodiesAt(`/slack/services/${SLACK_TOKEN}`);
  assert.ok(slack, 'the slack receiver got its message at the URL from url_env');
  assert.match(String(slack.text), new RegExp(`^\\*Ordeal PASS: db_failure_peak_load \\(run ${r.run_id}\\)\\*`));
  assert.match(String(slack.text), /> postgres: 400 ok/);
  assert.match(String(slack.text), /<http:\/\/127\.0\.0\.1:\d+\/namespaces\/default\/workflows\/[^|]+\|Temporal UI>/);
  assert.equal((slack.blocks as { type: string }[])[0]!.type, 'section');

  const [pd] = bodiesAt('/pd');
  assert.ok(pd, 'the pagerduty receiver got its event');
  assert.equal(pd.routing_key, PD_KEY);
  assert.equal(pd.event_action, 'trigger');
  assert.equal(pd.dedup_key, `ordeal-${r.run_id}`);
  const payload = pd.payload as Record<string, unknown>;
  assert.match(String(payload.summary), /^Ordeal PASS: db_failure_peak_load/);
  assert.equal(payload.source, 'ordeal');
  assert.ok(['critical', 'error', 'warning', 'info'].includes(String(payload.severity)));
  assert.equal((payload.custom_details as Record<string, unknown>).run_id, r.run_id);
  assert.deepEqual((pd.links as { text: string }[]).map((l) => l.text), ['Temporal UI', 'Grafana dashboard']);

  // The broken receiver: three attempts, then a note; the verdict is untouched.
  assert.equal(received.filter((x) => x.path.startsWith('/down')).length, 3);
  const note = r.reasons.find((x) => x.startsWith('notification broken'));
  assert.ok(note, r.reasons.join('\n'));
  assert.match(note, /failed after 3 attempt\(s\): HTTP 503: receiver down; the verdict stands/);
  const onDisk = JSON.parse(readFileSync(r.paths!.json, 'utf8')) as ExperimentReport;
  assert.equal(onDisk.verdict, 'PASS');
  assert.ok(onDisk.reasons.includes(note), 'the note is in report.json');
  assert.deepEqual(onDisk.notifications!.map((n) => [n.name, n.sent]), [['ops', true], ['hook', true], ['chat', true], ['pager', true], ['broken', false]]);
  const html = readFileSync(r.paths!.html, 'utf8');
  assert.match(html, /<h2>Notifications<\/h2>/);
  assert.match(html, /not sent/);

  // Secrets: the routing key and the webhook path token appear in no report and no log line.
  for (const [what, text] of [['report.json', readFileSync(r.paths!.json, 'utf8')], ['report.html', html],
    ['junit.xml', readFileSync(r.paths!.junit, 'utf8')], ['workflow result', JSON.stringify(r)]] as const) {
    assert.ok(!text.includes(PD_KEY), `the routing key leaked into ${what}`);
    assert.ok(!text.includes(SLACK_TOKEN), `the webhook token leaked into ${what}`);
  }
});

void test('a FAIL notifies by default with the failing counts and money at risk; a missing routing key is a note', async () => {
  assert.ok(passed, 'needs the previous test\'s report');
  // The passed run's report, as if postgres had lost two payments.
  const failed: ExperimentReport = structuredClone(passed);
  failed.verdict = 'FAIL';
  failed.reasons = ['postgres: 2 lost (usd 12.34)'];
  const pgSrc = failed.reconcile!.sources.find((s) => s.source === 'postgres')!;
  pgSrc.classes.lost = { count: 2, amount_cents: 1234, money: { usd: 1234 }, ids: ['m1', 'm2'] };
  const dir = mkdtempSync(join(tmpdir(), 'ordeal-notify-'));
  const paths = writeReportTo(dir, failed);
  const targets: NotifyTarget[] = [
    notifyTargetSchema.parse({ name: 'hook', format: 'json', url: `${base}/json-fail` }),
    notifyTargetSchema.parse({ name: 'chat', format: 'slack', url: `${base}/slack-fail` }),
    notifyTargetSchema.parse({ name: 'quiet', format: 'json', url: `${base}/never`, on: ['PASS'] }),
    notifyTargetSchema.parse({ name: 'pager', format: 'pagerduty', url: `${base}/pd-fail`, routing_key_env: 'ORDEAL_TEST_UNSET_KEY' }),
    notifyTargetSchema.parse({ name: 'pager2', format: 'pagerduty', url_env: 'ORDEAL_TEST_DOWN_URL', routing_key_env: 'ORDEAL_TEST_PD_KEY',
      retry: { attempts: 2, backoff: '50ms' } }),
  ];
  // The activity's log lines, to look for secrets.
  const lines: string[] = [];
  const log = pino({ level: 'debug' }, { write: (l: string) => { lines.push(l); } });
  const env = { ...process.env, ORDEAL_TEST_UNSET_KEY: undefined, ORDEAL_TEST_PD_KEY: PD_KEY, ORDEAL_TEST_DOWN_URL: `${base}/down/${SLACK_TOKEN}` };
  const out = await createNotifyActivities(env, log).notifyRun({ report: failed, paths, targets });
  assert.deepEqual(out.results.map((x) => [x.name, x.sent]), [['hook', true], ['chat', true], ['pager', false], ['pager2', false]]);
  assert.equal(lines.length, 4, lines.join(''));
  assert.ok(lines.some((l) => l.includes('notification failed') && l.includes('HTTP 503')), lines.join(''));
  for (const l of lines) {
    assert.ok(!l.includes(PD_KEY) && !l.includes(SLACK_TOKEN), `a secret in a log line: ${l}`);
  }
  assert.ok(!JSON.stringify(out).includes(SLACK_TOKEN) && !JSON.stringify(out).includes(PD_KEY));
  assert.equal(bodiesAt('/never').length, 0, 'a PASS-only target stays quiet on FAIL');
  assert.equal(bodiesAt('/pd-fail').length, 0, 'nothing is sent without a routing key');
  assert.match(out.notes[0]!, /notification pager .* routing key variable ORDEAL_TEST_UNSET_KEY is not set/);
  const [json] = bodiesAt('/json-fail');
  assert.equal(json!.verdict, 'FAIL');
  assert.equal((json!.counts as Record<string, Record<string, number>>).postgres!.lost, 2);
  assert.deepEqual((json!.money_at_risk as Record<string, Record<string, number>>).postgres, { usd: 1234 });
  assert.equal(json!.money_at_risk_text, 'postgres: usd 12.34');
  assert.deepEqual(json!.reasons, ['postgres: 2 lost (usd 12.34)']);
  const [slack] = bodiesAt('/slack-fail');
  assert.match(String(slack!.text), /> postgres: 400 ok, 2 lost/);
  assert.match(String(slack!.text), /Money at risk: postgres: usd 12\.34/);
  const rewritten = JSON.parse(readFileSync(paths.json, 'utf8')) as ExperimentReport;
  assert.equal(rewritten.verdict, 'FAIL');
  assert.ok(rewritten.reasons.some((x) => x.includes('routing key variable ORDEAL_TEST_UNSET_KEY is not set')));
});

void test('a notify variable that is not set is refused before anything runs: by ordeal validate and by the run\'s own validation', async () => {
  assert.ok(ordeal, 'needs the workers of the first real run');
  const targets = [{ name: 'oncall', format: 'pagerduty', url: `${base}/pd-never`, routing_key_env: 'ORDEAL_TEST_UNSET_PD_KEY' },
    { name: 'chat', format: 'slack', url_env: 'ORDEAL_TEST_UNSET_SLACK_URL' }];
  delete process.env.ORDEAL_TEST_UNSET_PD_KEY;
  delete process.env.ORDEAL_TEST_UNSET_SLACK_URL;
  const overrides = ['faults=[]', 'ledger.messages=400', 'load.rate=80', 'load.duration=5s', 'load.warmup=0', `notify=${JSON.stringify(targets)}`];

  // ordeal validate: exit 2, each variable at the field that names it, what it should hold.
  const v = spawnSync('bash', [join(repoRoot, 'scripts', 'ordeal'), 'validate', 'db_failure_peak_load', '--json', ...overrides.flatMap((o) => ['--set', o])],
    { encoding: 'utf8', env: process.env, timeout: 120_000 });
  assert.equal(v.status, 2, v.stdout + v.stderr);
  const problems = (JSON.parse(v.stdout) as { problems: { path: string; message: string }[] }).problems;
  const by = Object.fromEntries(problems.map((p) => [p.path, p.message]));
  assert.deepEqual(Object.keys(by).sort(), ['notify.0.routing_key_env', 'notify.1.url_env']);
  assert.match(by['notify.0.routing_key_env']!, /^environment variable ORDEAL_TEST_UNSET_PD_KEY is not set: expected the PagerDuty Events v2 routing key of notification oncall/);
  assert.match(by['notify.1.url_env']!, /^environment variable ORDEAL_TEST_UNSET_SLACK_URL is not set: expected the webhook URL/);

  // The run: the client leaves the variables to the worker, whose validation refuses the scenario
  // (non-retryable, every problem by path) before a ledger, a probe, a fault or a request.
  const h = await ordeal.start({ scenario: 'db_failure_peak_load', loadTaskQueue, overrides });
  const err = await ordeal.client.workflow.getHandle(h.workflowId).result().then(() => null, (e: unknown) => e);
  assert.ok(err instanceof WorkflowFailedError, String(err));
  assert.ok(err.cause instanceof ApplicationFailure);
  assert.equal(err.cause.type, 'InvalidScenario');
  assert.equal(err.cause.nonRetryable, true);
  assert.match(err.cause.message, /notify\.0\.routing_key_env: environment variable ORDEAL_TEST_UNSET_PD_KEY is not set/);
  assert.match(err.cause.message, /notify\.1\.url_env: environment variable ORDEAL_TEST_UNSET_SLACK_URL is not set/);
  assert.deepEqual(await scheduledActivities(ordeal, h.workflowId), ['resolveScenario']);
  assert.equal(bodiesAt('/pd-never').length, 0);
});

after(async () => {
  workers?.shutdown();
  await workers?.done;
  await ordeal?.close();
});
