// The system's failures are verdicts, not errors. A target that hangs (accepts and
// never answers), resets every connection, answers 503 to everything, or is not
// listening at all: the real workflow on the test stack FAILs with a reason a person
// reads, never ERROR (the redelivery activity heartbeats while its requests hang).
// The targets are tiny real servers on loopback; the stack's payment API stays the
// health probe, so steady state holds and the breaker stays quiet.
// With the breaker watching the failing target itself (it starts failing mid-run, in
// front of the real payment API), the run is ABORTED by the breaker, not FAIL, not
// ERROR, and what was acknowledged before is reconciled: a partial proof.
import { Agent, createServer as createHttpServer, request } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { redeliveryDetail } from '../../activities/report/index.ts';
import { summarize } from '../../scripts/cli/experiment.ts';
import { config, experimentWorkers, until } from './harness.ts';

const run = experimentWorkers('test-targets');

const ENTRIES = 150;

/** 50/s for 3 s, 1 s request timeout, 6 s of redelivery: every phase short, no fault. */
const shortRun = (port: number) => [
  `ledger.messages=${ENTRIES}`, 'load.rate=50', 'load.duration=3s', 'load.warmup=0', 'load.thresholds={}', 'load.timeout=1s',
  'load.retry={attempts: 2, backoff: 100ms, same_key: true}', `load.target=http://127.0.0.1:${port}`, 'faults=[]',
  'redelivery.timeout=6s', 'drain.timeout=30s',
];

/** A server on an ephemeral loopback port whose sockets are all destroyed on close. */
async function listen(server: Server): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => { sockets.add(s); s.once('close', () => sockets.delete(s)); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()); }),
  };
}

const targets = {
  'hangs (accepts, never answers)': () => listen(createServer((s) => { s.on('data', () => { /* read and never answer */ }); })),
  'resets every connection': () => listen(createServer((s) => { s.on('data', () => s.resetAndDestroy()); })),
  'answers 503 to everything': () => listen(createHttpServer((_req, res) => { res.writeHead(503, { 'content-type': 'text/plain' }).end('unavailable'); })),
  'is not listening': async () => {
    // A port that was just free: bound, then closed again.
    const { port, close } = await listen(createServer());
    await close();
    return { port, close: async () => {} };
  },
} as const;

const expected: Record<keyof typeof targets, RegExp> = {
  'hangs (accepts, never answers)': /requests timed out after 1 s; the system never answered during redelivery/,
  'resets every connection': /connections were reset; the system never answered during redelivery/,
  'answers 503 to everything': /requests answered with HTTP 5xx; the system answered \d+ of \d+ requests, none with a 2xx/,
  'is not listening': /connections were refused \(nothing listening\); the system never answered during redelivery/,
};

/** What redelivery met, per class (the target's failure the most frequent) and in words (most frequent first). */
const breakdown: Record<keyof typeof targets, { cls: string; words: RegExp }> = {
  'hangs (accepts, never answers)': { cls: 'timeout', words: /^[\d,]+ requests timed out after 1 s/ },
  'resets every connection': { cls: 'connection_reset', words: /^[\d,]+ connections were reset/ },
  'answers 503 to everything': { cls: 'http_5xx', words: /^[\d,]+ requests answered with HTTP 5xx/ },
  'is not listening': { cls: 'connection_refused', words: /^[\d,]+ connections were refused \(nothing listening\)/ },
};

for (const [what, start] of Object.entries(targets) as [keyof typeof targets, () => Promise<{ port: number; close: () => Promise<void> }>][]) {
  void test(`a target that ${what}: FAIL with a readable reason, not ERROR`, async () => {
    const target = await start();
    try {
      const h = await run.ordeal.start({ scenario: 'db_failure_peak_load', loadTaskQueue: run.loadTaskQueue, overrides: shortRun(target.port) });
      const r = await h.result();
      assert.equal(r.verdict, 'FAIL', r.reasons.join('\n'));
      assert.match(r.reasons[0]!, new RegExp(`^redelivery: ${ENTRIES} entries still unacknowledged after 6 s: `), r.reasons.join('\n'));
      assert.match(r.reasons[0]!, expected[what], r.reasons.join('\n'));
      // No acknowledgement ever came: nothing is in any system of record, so every entry is missing.
      assert.equal(r.report.load?.counts.acked, 0);
      assert.equal(r.report.redelivery?.still_unacknowledged, ENTRIES);
      for (const s of r.report.reconcile!.sources) assert.equal(s.classes.missing.count, ENTRIES, `${s.source}: every entry missing`);
      assert.ok(r.reasons.some((x) => /^postgres: 150 missing/.test(x)), r.reasons.join('\n'));
      // The redelivery's error breakdown, per class and in words: in report.json, the HTML and the CLI summary.
      const red = r.report.redelivery!;
      const { cls, words } = breakdown[what];
      assert.ok((red.errors_by_class?.[cls] ?? 0) > 0, JSON.stringify(red));
      assert.equal(red.errors_by_class![cls], Math.max(...Object.values(red.errors_by_class!)), 'the target\'s failure is the most frequent class');
      assert.equal(red.answered, what === 'answers 503 to everything' ? red.requests : 0);
      assert.match(red.errors ?? '', words);
      assert.ok(r.reasons[0]!.includes(red.errors!), `${r.reasons[0]} names ${red.errors}`);
      assert.ok(readFileSync(r.paths!.html, 'utf8').includes(redeliveryDetail(red)), 'HTML shows the breakdown');
      assert.match(summarize(r, 'http://ui'), new RegExp(`^redelivery: resent \\d+, acked 0, ${ENTRIES} still unacknowledged: [\\d,]+ `, 'm'));
    } finally {
      await target.close();
    }
  });
}

/**
 * The stack's payment API behind a reverse proxy that a test switches to failing:
 * 'hang' reads each request and never answers, '503' answers 503 without forwarding.
 */
async function switchableApi(): Promise<{ port: number; fail: (how: 'hang' | '503') => void; close: () => Promise<void> }> {
  let mode: 'pass' | 'hang' | '503' = 'pass';
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const server = createHttpServer((req, res) => {
    if (mode !== 'pass') {
      req.resume();
      if (mode === '503') res.writeHead(503, { 'content-type': 'text/plain' }).end('unavailable');
      return;
    }
    const up = request({ host: '127.0.0.1', port: config.ports.payment_api, method: req.method, path: req.url, headers: req.headers, agent }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    up.on('error', () => { if (!res.headersSent) res.writeHead(502); res.end(); });
    req.pipe(up);
  });
  const l = await listen(server);
  return { port: l.port, fail: (how) => { mode = how; }, close: async () => { agent.destroy(); await l.close(); } };
}

const breakerErrors = { hang: /no answer within 250 ms/, '503': /HTTP 503/ } as const;
const loadErrorClass = { hang: 'timeout', '503': 'http_5xx' } as const;

for (const how of ['hang', '503'] as const) {
  void test(`a target that starts to ${how === 'hang' ? 'hang' : 'answer 503'} mid-run, breaker on: ABORTED by the breaker, with a partial proof`, async () => {
    const api = await switchableApi();
    try {
      const target = `http://127.0.0.1:${api.port}`;
      // 50/s for 60 s (3,000 entries); the breaker probes the target's /ready every 250 ms and trips after 4 s down.
      // One attempt per entry: a failed request is a final outcome at once, so the load's counts show it before the stop.
      const h = await run.ordeal.start({ scenario: 'db_failure_peak_load', loadTaskQueue: run.loadTaskQueue, overrides: [
        'ledger.messages=3000', 'load.rate=50', 'load.duration=60s', 'load.warmup=0', 'load.thresholds={}', 'load.timeout=1s',
        'load.retry={attempts: 1, backoff: 100ms, same_key: true}', `load.target=${target}`, 'faults=[]', `recovery.probe=${target}/ready`,
        'safety.abort_if_down_for=4s', 'safety.probe_interval=250ms', 'drain.timeout=30s',
      ] });
      await until('payments acknowledged through the target', async () => (await h.status()).acked >= 100, 60_000);
      api.fail(how);
      const failedAt = Date.now();
      const r = await h.result();
      assert.equal(r.verdict, 'ABORTED', r.reasons.join('\n'));
      assert.match(r.reasons[0]!, new RegExp(`^circuit breaker: ${target}/ready down for \\d+ s \\(> abort_if_down_for 4000 ms\\): `), r.reasons.join('\n'));
      assert.match(r.reasons[0]!, breakerErrors[how]);
      assert.ok(!r.reasons.some((x) => /heartbeat timeout/i.test(x)), r.reasons.join('\n'));
      assert.ok(Date.now() - failedAt < 45_000, `ended ${Date.now() - failedAt} ms after the target failed`);
      // What the load saw before the stop: the target's failure, in its class.
      assert.ok((r.report.load?.counts.errorsByClass[loadErrorClass[how]] ?? 0) > 0, JSON.stringify(r.report.load?.counts));
      // The partial proof: every acknowledged entry exactly once in every system of record.
      const rec = r.report.reconcile;
      assert.ok(rec, `a partial proof was made: ${r.reasons.join('\n')}`);
      assert.equal(rec.scope, 'acknowledged');
      assert.equal(rec.exactlyOnce, true, rec.failures.join('\n'));
      assert.ok(rec.outcomes.acknowledged >= 100, `acknowledged ${rec.outcomes.acknowledged}`);
      for (const s of rec.sources) {
        assert.equal(s.classes.ok.count, rec.outcomes.acknowledged, `${s.source}: every acknowledged entry present exactly once`);
        for (const c of ['lost', 'duplicated', 'ghost', 'mismatched'] as const) assert.equal(s.classes[c].count, 0, `${s.source} ${c}`);
      }
      assert.equal(r.report.proof?.kind, 'partial');
      assert.match(r.report.proof.detail, new RegExp(`the ${rec.outcomes.acknowledged} acknowledged entries were reconciled .*: exactly-once held\\. Not judged: \\d+ entries never sent`));
      assert.ok((r.report.proof.never_sent ?? 0) > 1000, `most of the 3,000 entries were never sent: ${r.report.proof.detail}`);
    } finally {
      await api.close();
    }
  });
}
