// The outcome log in Ordeal's own database: one final outcome per ledger entry,
// readable by any worker; redelivery re-sends every unacknowledged entry with its
// ORIGINAL idempotency key. Needs the stack's ordeal-db.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { MockActivityEnvironment } from '@temporalio/testing';
import { closeOutcomeDbs, loadActivities, planLoadShards, parseLoadSettings, readOutcomes, type LoadShardResult, type OutcomeRow } from '../../activities/load/index.ts';
import { ledgerEntry } from '../../activities/ledger/generate.ts';
import { ledgerSpecSchema } from '../../activities/ledger/types.ts';
import { startTestServer } from './servers.ts';

after(() => closeOutcomeDbs());

async function allOutcomes(runId: string): Promise<OutcomeRow[]> {
  const rows: OutcomeRow[] = [];
  for await (const batch of readOutcomes(runId, { batchSize: 128 })) rows.push(...batch);
  return rows;
}

void test('outcome log is complete, exact, and redelivery re-sends unacknowledged entries with their original keys', async () => {
  let healed = false;
  const srv = await startTestServer({ statusFor: (key) => {
    const seq = Number(key.slice(-8));
    if (healed) return 201;
    if (seq % 10 === 3) return 503;   // unknown: maybe committed
    if (seq % 10 === 7) return 400;   // failed: definitive rejection
    return 201;
  } });
  const runId = `outcomes-${Date.now()}`;
  try {
    const ledger = ledgerSpecSchema.parse({ messages: 600, seed: 3 });
    const settings = parseLoadSettings({ target: srv.url, rate: 600, shards: 2, retry: { attempts: 2, backoff: '10ms' } });
    const shards = planLoadShards(runId, settings, ledger);
    const results = await Promise.all(shards.map((s) => loadActivities.runLoadShard(s)));
    const summary = await loadActivities.summarizeLoad(results, settings);
    assert.equal(summary.counts.acked + summary.counts.failed + summary.counts.unknown, 600);
    assert.equal(summary.counts.unknown, 60);
    assert.equal(summary.counts.failed, 60);

    const rows = await allOutcomes(runId);
    assert.equal(rows.length, 600, 'one row per ledger entry');
    assert.deepEqual(rows.map((r) => r.seq), Array.from({ length: 600 }, (_, i) => i));
    for (const r of rows) {
      const e = ledgerEntry(runId, ledger, r.seq);
      assert.equal(r.message_id, e.message_id);
      if (r.seq % 10 === 3) assert.deepEqual([r.status, r.error_class, r.attempts], ['unknown', 'http_5xx', 2]);
      else if (r.seq % 10 === 7) assert.deepEqual([r.status, r.http_status, r.attempts], ['failed', 400, 1]);
      else { assert.equal(r.status, 'acknowledged'); assert.match(r.payment_id ?? '', /^pay_\d+$/); }
    }

    healed = true;
    const before = new Map([...srv.requests].map(([k, v]) => [k, v.length]));
    const red = await loadActivities.redeliverUnacknowledged({ runId, settings, ledger });
    // The healed server acknowledges every first attempt: one answered request per entry.
    assert.deepEqual(red, { resent: 120, acked: 120, stillUnacknowledged: 0, requests: 120, answered: 120, errorsByClass: {} });
    for (const [key, times] of srv.requests) {
      const seq = Number(key.slice(-8));
      const extra = times.length - (before.get(key) ?? 0);
      assert.equal(extra, seq % 10 === 3 || seq % 10 === 7 ? 1 : 0, `key ${key} re-sent ${extra} times`);
    }
    assert.equal(srv.requests.size, 600, 'no new keys: redelivery uses the original idempotency keys');
    const afterRows = await allOutcomes(runId);
    assert.equal(afterRows.length, 600);
    assert.ok(afterRows.every((r) => r.status === 'acknowledged'));
    assert.equal(afterRows.filter((r) => r.redelivered).length, 120);
    assert.equal(afterRows.find((r) => r.seq === 3)!.attempts, 3);

    // Nothing left to redeliver: a second pass sends nothing.
    const n = srv.total();
    assert.deepEqual(await loadActivities.redeliverUnacknowledged({ runId, settings, ledger }),
      { resent: 0, acked: 0, stillUnacknowledged: 0, requests: 0, answered: 0, errorsByClass: {} });
    assert.equal(srv.total(), n);
  } finally { await srv.close(); }
});

void test('a shard re-run after its rows were persisted sends nothing again and reports the same counts', async () => {
  const srv = await startTestServer();
  const runId = `rerun-${Date.now()}`;
  try {
    const ledger = ledgerSpecSchema.parse({ messages: 200 });
    const [shard] = planLoadShards(runId, parseLoadSettings({ target: srv.url, rate: 1000 }), ledger);
    const first = await loadActivities.runLoadShard(shard!);
    assert.equal(srv.total(), 200);
    // A retry with no heartbeat (crash right after the last flush): every row is folded, nothing re-sent.
    const second = await loadActivities.runLoadShard(shard!);
    assert.equal(srv.total(), 200);
    assert.deepEqual(second.counts, first.counts);
  } finally { await srv.close(); }
});

void test('a retry whose first attempt died before its first heartbeat counts its seconds and its harness gap from the first scheduling', async () => {
  const srv = await startTestServer();
  const runId = `noheartbeat-${Date.now()}`;
  try {
    const ledger = ledgerSpecSchema.parse({ messages: 200 });
    const [shard] = planLoadShards(runId, parseLoadSettings({ target: srv.url, rate: 1000 }), ledger);
    // Attempt 2, first scheduled 8 s ago, no heartbeat details: the first attempt died
    // within its first second (as a worker SIGKILLed right after the load phase began).
    const scheduledAt = Date.now() - 8000;
    const env = new MockActivityEnvironment({ attempt: 2, scheduledTimestampMs: scheduledAt, heartbeatTimeoutMs: 20_000,
      activityId: '1', workflowExecution: { workflowId: `wf-${runId}`, runId: 'r' } });
    const r = await env.run(() => loadActivities.runLoadShard(shard!)) as LoadShardResult;
    const gap = r.gaps?.find((g) => g.kind === 'resumed');
    assert.ok(gap, `a resumed gap is reported: ${JSON.stringify(r.gaps)}`);
    assert.equal(gap.fromMs, scheduledAt);
    // The resumed schedule's seconds sit after the gap, not at the phase's start.
    const first = r.timeline.find((t) => t.sent > 0);
    assert.ok(first && first.t >= 7, `first sending second ${first?.t}, expected ~8`);
    assert.equal(srv.total(), 200);
  } finally { await srv.close(); }
});
