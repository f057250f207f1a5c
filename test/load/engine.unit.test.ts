// The load engine against real loopback HTTP servers: executor rates, the open model
// under a stall, user patterns (idempotency race, retries), error classes, stress
// knee and cancellation. No database: outcomes are collected in memory here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { runLoad, type EngineInput } from '../../activities/load/engine.ts';
import { parseLoadSettings } from '../../activities/load/plan.ts';
import { latencySummary, type EntryOutcome } from '../../activities/load/stats.ts';
import { ledgerSpecSchema } from '../../activities/ledger/types.ts';
import { startTestServer } from './servers.ts';

async function load(settings: Record<string, unknown>, messages: number, extra: Partial<EngineInput> = {}) {
  const outcomes: EntryOutcome[] = [];
  const ledger = ledgerSpecSchema.parse({ messages, seed: 7 });
  const r = await runLoad({ runId: `t${Date.now()}`, settings: parseLoadSettings(settings), ledger, from: 0, to: messages,
    onOutcome: (o) => outcomes.push(o), ...extra });
  return { ...r, outcomes };
}

/** Achieved send rate over the run: requests / time of the last actual send (the schedule starts at 0). */
function rateOf(times: number[]): number {
  return ((times.length - 1) * 1000) / Math.max(...times);
}
/** Actual send times (ms) of every request: intended time plus how late it went out. */
const sendTimes = (outcomes: EntryOutcome[]) => outcomes.flatMap((o) => o.samples.map((x) => x.t + (x.c - x.u) / 1000));
const within = (actual: number, expected: number, tol: number) =>
  assert.ok(Math.abs(actual - expected) <= expected * tol, `${actual.toFixed(1)} not within ${tol * 100}% of ${expected}`);

void test('constant-arrival-rate hits its rate within 2% and every entry ends exactly once', async () => {
  const srv = await startTestServer();
  try {
    const r = await load({ target: srv.url, rate: 1000, duration: '3s' }, 3000);
    assert.equal([...srv.requests.values()].flat().length, 3000);
    within(rateOf(sendTimes(r.outcomes)), 1000, 0.02);
    assert.equal(r.outcomes.length, 3000);
    assert.equal(new Set(r.outcomes.map((o) => o.seq)).size, 3000);
    assert.equal(r.stats.counts.acked, 3000);
    assert.ok(r.outcomes.every((o) => o.payment_id?.startsWith('pay_')), 'every ack carries the system\'s payment id');
    for (const p of r.stats.encode(false).timeline) within(p.sent, 1000, 0.02);
  } finally { await srv.close(); }
});

void test('ramping-arrival-rate follows its stages; constant-vus with pacing gives vus/pacing', async () => {
  const srv = await startTestServer();
  try {
    const r = await load({ target: srv.url, executor: 'ramping-arrival-rate', rate: 0,
      stages: [{ duration: '2s', target: 1000 }, { duration: '1s', target: 1000 }] }, 5000);
    assert.equal(r.arrivals, 2000);
    const tl = r.stats.encode(false).timeline;
    within(tl[0]!.sent, 250, 0.02); // ∫0..1 1000t dt
    within(tl[1]!.sent, 750, 0.02);
    within(tl[2]!.sent, 1000, 0.02);
    // The ledger was larger than the profile: the rest is recorded as not sent (redelivery sends it).
    assert.equal(r.outcomes.filter((o) => o.error_class === 'not_sent').length, 3000);

    srv.requests.clear();
    const v = await load({ target: srv.url, executor: 'constant-vus', vus: 20, pacing: '100ms', duration: '2s' }, 5000);
    const sent = v.stats.counts.requests;
    within(sent, 400, 0.02);

    const ramp = await load({ target: srv.url, executor: 'ramping-vus', pacing: '100ms',
      stages: [{ duration: '1s', target: 10 }, { duration: '1s', target: 10 }] }, 5000);
    const rtl = ramp.stats.encode(false).timeline;
    assert.ok(rtl[0]!.sent < rtl[1]!.sent, `ramp-up: ${rtl[0]!.sent} then ${rtl[1]!.sent}`);
    within(rtl[1]!.sent, 100, 0.1);
  } finally { await srv.close(); }
});

void test('open model keeps its schedule while the server stalls: late and dropped counted, latency corrected', async () => {
  const srv = await startTestServer();
  try {
    setTimeout(() => srv.stall(1000), 1000);
    const r = await load({ target: srv.url, rate: 500, duration: '3s', max_in_flight: 50 }, 1500);
    const tl = r.stats.encode(false).timeline;
    assert.equal(r.stats.counts.requests, 1500);
    // Intended sends per second stay at the rate through the stall: no silent slowdown.
    for (const p of tl) within(p.sent, 500, 0.02);
    assert.ok(r.stats.counts.late > 300, `late ${r.stats.counts.late}`);
    const corrected = latencySummary(r.stats.hist);
    const actual = latencySummary(r.stats.histU);
    assert.ok(corrected.p99 >= 800, `corrected p99 ${corrected.p99} ms`);
    // Requests queued behind the stall look fast from their actual send; not from their intended one.
    assert.ok(corrected.mean > 2 * actual.mean, `corrected mean ${corrected.mean} ms vs uncorrected ${actual.mean} ms`);
    assert.equal(r.stats.counts.acked, 1500);

    srv.requests.clear();
    setTimeout(() => srv.stall(1500), 500);
    const d = await load({ target: srv.url, rate: 400, duration: '2s', max_in_flight: 20, drop_after: '300ms' }, 800);
    assert.ok(d.stats.counts.dropped > 100, `dropped ${d.stats.counts.dropped}`);
    assert.equal(d.stats.counts.dropped, d.outcomes.filter((o) => o.error_class === 'dropped').length);
    assert.ok(d.outcomes.filter((o) => o.dropped).every((o) => o.status === 'unknown' && o.attempts === 0));
    assert.equal(d.outcomes.length, 800);
  } finally { await srv.close(); }
});

void test('idempotency race: a broken endpoint is caught, a correct one passes', async () => {
  const broken = await startTestServer({ idempotency: 'broken' });
  const good = await startTestServer({ idempotency: 'correct' });
  try {
    const b = await load({ target: broken.url, rate: 200, mix: { idempotency_race: 100 } }, 100);
    assert.equal(b.stats.counts.requests, 200);
    assert.equal(b.stats.mismatches.length, 100);
    assert.equal(b.stats.counts.errorsByClass.assertion, 100);
    assert.notEqual(b.stats.mismatches[0]!.payment_ids[0], b.stats.mismatches[0]!.payment_ids[1]);
    const g = await load({ target: good.url, rate: 200, mix: { idempotency_race: 50, rapid: 50 } }, 200);
    assert.equal(g.stats.mismatches.length, 0);
    assert.ok(g.stats.counts.requests > 250, 'the race sends some keys twice');
  } finally { await broken.close(); await good.close(); }
});

void test('retry pattern: same key replays the payment; same_key:false sends a new key (the classic bug)', async () => {
  const srv = await startTestServer();
  try {
    const same = await load({ target: srv.url, rate: 200, mix: { retry: 100 } }, 50);
    assert.equal(same.stats.mismatches.length, 0);
    assert.ok([...srv.requests.values()].every((t) => t.length === 2), 'each key sent twice');
    srv.requests.clear();
    const bug = await load({ target: srv.url, rate: 200, mix: { retry: 100 }, retry: { same_key: false } }, 50);
    assert.equal(bug.stats.counts.acked, 50);
    const retryKeys = [...srv.requests.keys()].filter((k) => k.endsWith('-client-retry'));
    assert.equal(retryKeys.length, 50, 'the retry carried a new key: the system will book a second payment');
    const broken = await startTestServer({ idempotency: 'broken' });
    try {
      const m = await load({ target: broken.url, rate: 200, mix: { retry: 100 } }, 20);
      assert.equal(m.stats.mismatches.length, 20);
      assert.equal(m.stats.mismatches[0]!.pattern, 'retry');
    } finally { await broken.close(); }
  } finally { await srv.close(); }
});

void test('error classes: 5xx retried with the same key, 4xx failed, 409/429 unknown, refused and timeout', async () => {
  const srv = await startTestServer({ statusFor: (key, n) => {
    const seq = Number(key.slice(-8));
    if (seq % 4 === 0) return n === 1 ? 503 : 201;
    if (seq % 4 === 1) return 422;
    if (seq % 4 === 2) return 429;
    return 201;
  } });
  try {
    const r = await load({ target: srv.url, rate: 400, retry: { attempts: 2, backoff: '20ms' } }, 40);
    const by = (k: number) => r.outcomes.filter((o) => o.seq % 4 === k);
    assert.ok(by(0).every((o) => o.status === 'acknowledged' && o.attempts === 2 && o.error_class === 'http_5xx'));
    assert.ok(by(1).every((o) => o.status === 'failed' && o.attempts === 1 && o.http_status === 422));
    assert.ok(by(2).every((o) => o.status === 'unknown' && o.attempts === 2 && o.error_class === 'http_429'));
    assert.equal(r.stats.counts.errorsByClass.http_5xx, 10);
    assert.equal(r.stats.counts.errorsByClass.http_4xx, 10);
    assert.ok(by(0).every((o) => srv.requests.get(o.idempotency_key)?.length === 2), 'retries reuse the idempotency key');
  } finally { await srv.close(); }

  // A port nobody listens on, then a server that never answers.
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const refused = await load({ target: `http://127.0.0.1:${port}`, rate: 100, retry: { attempts: 1 } }, 5);
  assert.deepEqual(refused.outcomes.map((o) => o.error_class), Array(5).fill('connection_refused'));
  assert.ok(refused.outcomes.every((o) => o.status === 'unknown'));
  const silent = createServer(() => { /* never answers */ });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  try {
    const t = await load({ target: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`, rate: 100, timeout: '300ms', retry: { attempts: 1 } }, 3);
    assert.deepEqual(t.outcomes.map((o) => o.error_class), ['timeout', 'timeout', 'timeout']);
  } finally { silent.closeAllConnections(); silent.close(); }
});

void test('an outage answered with fast 503s: entries sleeping between retries do not hold max_in_flight slots', async () => {
  const srv = await startTestServer({ statusFor: () => 503 });
  try {
    // Each entry retries for ~700 ms; with 10 slots held through the sleeps, 200 arrivals/s would queue and drop.
    const r = await load({ target: srv.url, rate: 200, duration: '1s', max_in_flight: 10, drop_after: '2s',
      retry: { attempts: 4, backoff: '100ms' } }, 200);
    assert.equal(r.outcomes.length, 200);
    assert.equal(r.stats.counts.dropped, 0);
    assert.ok(r.outcomes.every((o) => o.status === 'unknown' && o.attempts === 4 && o.error_class === 'http_5xx'));
    assert.equal(srv.total(), 800);
    assert.ok(r.stats.counts.late <= 0.05 * r.stats.counts.requests, `late ${r.stats.counts.late} of ${r.stats.counts.requests}`);
  } finally { await srv.close(); }
});

void test('stress ramps the rate until a threshold breaks and reports the knee', async () => {
  // Capacity ~100 req/s: answers are serialised, 10 ms each.
  let busyUntil = 0;
  const srv = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      busyUntil = Math.max(Date.now(), busyUntil) + 10;
      setTimeout(() => res.writeHead(201, { 'content-type': 'application/json' }).end('{"id":"p"}'), busyUntil - Date.now());
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  try {
    const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
    // Thresholds leave room for a shared, busy CI host; 3x over capacity still breaks them within a second.
    const r = await load({ target: url, executor: 'stress', thresholds: { p99_ms: 300 }, timeout: '3s',
      stages: [{ duration: '2s', target: 20 }, { duration: '2s', target: 50 }, { duration: '2s', target: 300 }, { duration: '2s', target: 600 }] }, 10_000);
    assert.ok(r.stress, 'stress verdicts');
    assert.deepEqual(r.stress.map((s) => s.ok), [true, true, false], JSON.stringify(r.stress));
    assert.match(r.stress[2]!.reasons.join(' '), /p99 .* > 300 ms|requests answered/);
    // It stopped at the broken stage: the 600/s stage never ran.
    assert.ok(r.stats.counts.requests < 20 * 2 + 50 * 2 + 300 * 2 + 50, `requests ${r.stats.counts.requests}`);
  } finally { srv.closeAllConnections(); srv.close(); }
});

void test('cancellation stops sending promptly and still ends every entry', async () => {
  const srv = await startTestServer({ delayMs: 50 });
  try {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 500);
    const started = Date.now();
    const r = await load({ target: srv.url, rate: 200, duration: '10s' }, 2000, { signal: ac.signal });
    assert.ok(Date.now() - started < 1500, `took ${Date.now() - started} ms`);
    // Requests written before the cancel may still be in the server's socket buffers; after that, silence.
    await new Promise((res) => setTimeout(res, 300));
    const before = srv.total();
    await new Promise((res) => setTimeout(res, 300));
    assert.equal(srv.total(), before, 'nothing sent after the run returned');
    assert.ok(before <= r.stats.counts.requests, `server saw ${before}, engine sent ${r.stats.counts.requests}`);
    assert.ok(before < 150, `sent ${before}`);
    assert.equal(r.cancelled, true);
    assert.equal(r.outcomes.length, 2000);
    assert.ok(r.outcomes.filter((o) => o.error_class === 'cancelled').length > 1800);
  } finally { await srv.close(); }
});
