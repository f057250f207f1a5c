// The system's failures are verdicts, not errors. A target that hangs (accepts and
// never answers), resets every connection, answers 503 to everything, or is not
// listening at all: the real workflow on the test stack FAILs with a reason a person
// reads, never ERROR (the redelivery activity heartbeats while its requests hang).
// The targets are tiny real servers on loopback; the stack's payment API stays the
// health probe, so steady state holds and the breaker stays quiet.
import { createServer as createHttpServer } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { experimentWorkers } from './harness.ts';

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
    } finally {
      await target.close();
    }
  });
}
