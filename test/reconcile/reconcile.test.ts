// Reconciliation against the real stack: every outcome class produced by data
// planted in PostgreSQL (payments, via its proxy) and Kafka (via its proxy), with
// the outcome log in a real table of Ordeal's database.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import type { LedgerEntry, LedgerSpec } from '../../activities/ledger/index.ts';
import { createReconcileActivities, failingClasses, sqlOutcomeSource } from '../../activities/reconcile/index.ts';
import type { OutcomeClass, OutcomeStatus, ReconcileResult, ReconcileSourceInput } from '../../activities/reconcile/index.ts';
import { closeOutcomeDbs, outcomeDb, recordRedelivery, writeOutcomes } from '../../activities/load/outcomes.ts';
import type { EntryOutcome } from '../../activities/load/stats.ts';
import { asRow, entries, money, ordealUrl, OutcomeTable, PaymentsTable, suffix, Topic } from './plant.ts';
import type { Row } from './plant.ts';

process.env.ORDEAL_LOG_LEVEL ??= 'error';

const outcomesTable = new OutcomeTable();
const payments = new PaymentsTable();
const topic = new Topic();

const activities = createReconcileActivities({ outcomes: () => sqlOutcomeSource(ordealUrl, outcomesTable.query) });
const sources = (): ReconcileSourceInput[] => [
  { source: 'postgres', query: payments.query },
  { source: 'kafka', topic: topic.name, timeout: '60s' },
];

before(async () => {
  await Promise.all([outcomesTable.create(), payments.create(), topic.create(3)]);
});
after(async () => {
  await Promise.allSettled([outcomesTable.drop(), payments.drop(), topic.drop()]);
});

/** Plants the same records in both systems of record, and the outcome log. */
async function plant(runId: string, outcomes: { message_id: string; outcome: OutcomeStatus }[], rows: Row[]): Promise<void> {
  await outcomesTable.insert(runId, outcomes);
  await payments.insert(rows);
  await topic.send(rows);
}

const counts = (r: ReconcileResult, source: string) =>
  Object.fromEntries(Object.entries(r.sources.find((s) => s.source === source)!.classes).map(([c, t]) => [c, t.count]));

void describe('every class from real data, with money and ids', () => {
  const runId = `rt-${suffix()}`;
  const spec: LedgerSpec = { messages: 40, seed: 11, amount_cents: [100, 50_000], currency: ['usd', 'eur'], customers: 10 };
  const e = entries(runId, spec);
  const other = (cur: string) => (cur === 'usd' ? 'eur' : 'usd');
  const lost = [e[20]!, e[21]!];
  const duplicated = [e[22]!, e[23]!];
  const mismatched = [e[24]!, e[25]!];
  const unacknowledged = [e[26]!, e[27]!, e[28]!];
  const missing = [e[29]!, e[30]!, e[31]!];
  const ok = [...e.slice(0, 20), ...e.slice(32)];
  const ghosts: Row[] = [
    { message_id: `${runId}-99999999`, amount_cents: 111, currency: 'usd', test_run_id: runId }, // beyond the ledger
    { message_id: `${runId}-0000001`, amount_cents: 222, currency: 'usd', test_run_id: runId }, // look-alike of seq 1
    { message_id: 'not-from-the-ledger', amount_cents: 333, currency: 'eur', test_run_id: runId },
  ];
  let result: ReconcileResult;

  before(async () => {
    const outcome = (x: LedgerEntry): OutcomeStatus =>
      x === e[28] ? 'failed' : unacknowledged.includes(x) || missing.includes(x) ? 'unknown' : 'acknowledged';
    const outcomes = e.filter((x) => x !== e[31]).map((x) => ({ message_id: x.message_id, outcome: outcome(x) })); // 31: never sent
    // The load engine may log a message more than once (attempts, redelivery): an acknowledgement is final.
    outcomes.push({ message_id: e[0]!.message_id, outcome: 'unknown' });
    const rows: Row[] = [
      ...ok.map((x) => asRow(runId, x, x === e[3] ? { currency: x.currency.toUpperCase() } : {})), // case is not a mismatch
      asRow(runId, e[22]!), asRow(runId, e[22]!),
      asRow(runId, e[23]!), asRow(runId, e[23]!), asRow(runId, e[23]!, { amount_cents: e[23]!.amount_cents + 5 }),
      asRow(runId, e[24]!, { amount_cents: e[24]!.amount_cents + 1 }),
      asRow(runId, e[25]!, { currency: other(e[25]!.currency) }),
      ...unacknowledged.map((x) => asRow(runId, x)),
      ...ghosts,
    ];
    await plant(runId, outcomes, rows);
    // Noise that must not count: another run's records, and (Kafka) an aborted
    // transaction full of copies and a ghost, and a record that is not JSON.
    const otherRun = `rt-other-${suffix()}`;
    await payments.insert(e.slice(0, 5).map((x) => asRow(otherRun, x)));
    await topic.send(e.slice(0, 5).map((x) => asRow(otherRun, x)));
    await topic.send([...ok.slice(0, 10).map((x) => asRow(runId, x)), asRow(runId, e[20]!), { ...ghosts[0]!, message_id: 'aborted-ghost' }], { abort: true });
    await topic.send(['this is not json']);
    result = await activities.reconcile({ runId, ledger: spec, sources: sources() });
  });

  for (const source of ['postgres', 'kafka']) {
    void test(`${source}: counts per class`, () => {
      assert.deepEqual(counts(result, source), {
        ok: ok.length, lost: 2, duplicated: 2, ghost: 3, mismatched: 2, unacknowledged: 3, missing: 3,
      });
      assert.equal(result.sources.find((s) => s.source === source)!.records, ok.length + 5 + 2 + 3 + 3);
    });

    void test(`${source}: money per class and currency`, () => {
      const cls = result.sources.find((s) => s.source === source)!.classes;
      const sum = (m: Record<string, number>) => Object.values(m).reduce((a, b) => a + b, 0);
      const expect: Record<OutcomeClass, Record<string, number>> = {
        ok: money(ok), lost: money(lost), mismatched: money(mismatched), unacknowledged: money(unacknowledged), missing: money(missing),
        // Copies beyond the first at the ledger amount: one of 22, two of 23 (whichever copy differs).
        duplicated: money([e[22]!, e[23]!, e[23]!]),
        ghost: { usd: 333, eur: 333 },
      };
      for (const c of Object.keys(expect) as OutcomeClass[]) {
        const want = Object.fromEntries(Object.entries(expect[c]).filter(([, v]) => v !== 0));
        assert.deepEqual(cls[c].money, want, `${source} ${c} money`);
        assert.equal(cls[c].amount_cents, sum(want), `${source} ${c} amount_cents`);
      }
    });

    void test(`${source}: example ids name the messages`, () => {
      const cls = result.sources.find((s) => s.source === source)!.classes;
      const ids = (l: LedgerEntry[]) => l.map((x) => x.message_id);
      assert.deepEqual(cls.lost.ids, ids(lost));
      assert.deepEqual(cls.duplicated.ids, ids(duplicated));
      assert.deepEqual(cls.mismatched.ids, ids(mismatched));
      assert.deepEqual(cls.unacknowledged.ids, ids(unacknowledged));
      assert.deepEqual(cls.missing.ids, ids(missing));
      assert.deepEqual([...cls.ghost.ids].sort(), ghosts.map((g) => g.message_id).sort());
      assert.equal(cls.ok.ids.length, 20, 'ids are bounded');
    });
  }

  void test('outcome log summary, verdict and failure lines', () => {
    assert.deepEqual(result.outcomes, { acknowledged: 34, failed: 1, unknown: 4, none: 1, outside_ledger: 0 });
    assert.equal(result.ledgerCount, 40);
    assert.equal(result.exactlyOnce, false);
    assert.equal(result.failures.length, 2 * failingClasses.length);
    assert.ok(result.failures.some((f) => f.startsWith('postgres: 2 lost (') && f.includes(lost[0]!.message_id)), result.failures.join('\n'));
    assert.ok(result.failures.some((f) => f.startsWith('kafka: 3 ghost (eur 3.33 + usd 3.33)')), result.failures.join('\n'));
  });

  void test('kafka: the record that is not JSON is reported, not counted', () => {
    const kafka = result.sources.find((s) => s.source === 'kafka')!;
    assert.ok(kafka.warnings.some((w) => w.includes('not JSON')), kafka.warnings.join('\n'));
  });
});

void describe('the exactly-once verdict flips for each class', () => {
  const spec: LedgerSpec = { messages: 8, seed: 5, amount_cents: [100, 900], currency: 'usd', customers: 3 };

  /** A clean run (all acknowledged, each present once) with one change applied. */
  async function run(change: (e: LedgerEntry[], outcomes: Map<string, OutcomeStatus>, rows: Row[], runId: string) => void) {
    const runId = `flip-${suffix()}`;
    const e = entries(runId, spec);
    const outcomes = new Map(e.map((x) => [x.message_id, 'acknowledged' as OutcomeStatus]));
    const rows = e.map((x) => asRow(runId, x));
    change(e, outcomes, rows, runId);
    await plant(runId, [...outcomes].map(([message_id, outcome]) => ({ message_id, outcome })), rows);
    return activities.reconcile({ runId, ledger: spec, sources: sources() });
  }

  const bad = (r: ReconcileResult, source: string) => failingClasses.filter((c) => counts(r, source)[c]! > 0);

  void test('clean run: exactly once', async () => {
    const r = await run(() => {});
    assert.equal(r.exactlyOnce, true, r.failures.join('\n'));
    assert.deepEqual(r.failures, []);
    assert.equal(counts(r, 'postgres').ok, 8);
    assert.equal(counts(r, 'kafka').ok, 8);
  });

  void test('unacknowledged, then present exactly once after redelivery: still exactly once', async () => {
    const r = await run((e, outcomes) => { outcomes.set(e[2]!.message_id, 'unknown'); outcomes.set(e[3]!.message_id, 'failed'); });
    assert.equal(r.exactlyOnce, true, r.failures.join('\n'));
    for (const s of ['postgres', 'kafka']) assert.equal(counts(r, s).unacknowledged, 2);
  });

  const flips: [typeof failingClasses[number], Parameters<typeof run>[0]][] = [
    ['lost', (e, _o, rows) => { rows.splice(rows.findIndex((r) => r.message_id === e[4]!.message_id), 1); }],
    ['duplicated', (e, _o, rows, runId) => { rows.push(asRow(runId, e[4]!)); }],
    ['ghost', (_e, _o, rows, runId) => { rows.push({ message_id: `${runId}-00000008`, amount_cents: 500, currency: 'usd', test_run_id: runId }); }],
    ['mismatched', (e, _o, rows) => { rows.find((r) => r.message_id === e[4]!.message_id)!.amount_cents += 1; }],
    ['missing', (e, outcomes, rows) => {
      outcomes.set(e[4]!.message_id, 'unknown');
      rows.splice(rows.findIndex((r) => r.message_id === e[4]!.message_id), 1);
    }],
  ];
  for (const [cls, change] of flips) {
    void test(`${cls}: one message flips the verdict in both sources`, async () => {
      const r = await run(change);
      assert.equal(r.exactlyOnce, false);
      for (const s of ['postgres', 'kafka']) {
        assert.deepEqual(bad(r, s), [cls], `${s}: ${JSON.stringify(counts(r, s))}`);
        assert.equal(counts(r, s)[cls], 1);
      }
      assert.equal(r.failures.length, 2);
    });
  }
});

void describe('kafka snapshot semantics', () => {
  void test('a transaction open at start is waited for and counted once it commits', async () => {
    const runId = `open-${suffix()}`;
    const spec: LedgerSpec = { messages: 4, seed: 1, amount_cents: [100, 200], currency: 'usd', customers: 1 };
    const e = entries(runId, spec);
    await outcomesTable.insert(runId, e.map((x) => ({ message_id: x.message_id, outcome: 'acknowledged' })));
    await topic.send(e.slice(0, 2).map((x) => asRow(runId, x)));
    const producer = await topic.producer();
    try {
      const tx = await producer.transaction();
      await tx.send({ topic: topic.name, messages: e.slice(2).map((x) => ({ value: JSON.stringify(asRow(runId, x)) })) });
      const pending = activities.reconcile({ runId, ledger: spec, sources: [{ source: 'kafka', topic: topic.name, timeout: '60s' }] });
      await new Promise((r) => setTimeout(r, 1500));
      await tx.commit();
      const r = await pending;
      assert.equal(counts(r, 'kafka').ok, 4, JSON.stringify(counts(r, 'kafka')));
      assert.equal(r.exactlyOnce, true);
      assert.ok(r.sources[0]!.warnings.some((w) => w.includes('transaction was open')), r.sources[0]!.warnings.join('\n'));
    } finally {
      await producer.disconnect();
    }
  });

  void test('a topic that does not exist: every acknowledged message is lost', async () => {
    const runId = `nothing-${suffix()}`;
    const spec: LedgerSpec = { messages: 3, seed: 1, amount_cents: [100, 200], currency: 'usd', customers: 1 };
    await outcomesTable.insert(runId, entries(runId, spec).map((x) => ({ message_id: x.message_id, outcome: 'acknowledged' })));
    const r = await activities.reconcile({ runId, ledger: spec, sources: [{ source: 'kafka', topic: `absent-${suffix()}` }] });
    assert.equal(counts(r, 'kafka').lost, 3);
    assert.match(r.sources[0]!.warnings[0]!, /does not exist/);
  });
});

void describe('errors carry context and say whether a retry can help', () => {
  const spec: LedgerSpec = { messages: 2, seed: 1, amount_cents: [100, 200], currency: 'usd', customers: 1 };

  void test('an invalid input lists every problem by path, non-retryable', async () => {
    await assert.rejects(
      activities.reconcile({ runId: 'r 1', ledger: { ...spec, messages: -1 }, sources: [{ source: 'kafka' } as unknown as ReconcileSourceInput] }),
      (err: unknown) => {
        assert.ok(err instanceof ApplicationFailure && err.nonRetryable);
        assert.match(err.message, /runId/);
        assert.match(err.message, /ledger\.messages/);
        assert.match(err.message, /sources\.0\.topic/);
        return true;
      });
  });

  void test('a query without the required columns is non-retryable and names them', async () => {
    await assert.rejects(
      activities.reconcile({ runId: 'r1', ledger: spec, sources: [{ source: 'postgres', query: `SELECT message_id FROM ${payments.name} WHERE test_run_id = $1` }] }),
      (err: unknown) => {
        assert.ok(err instanceof ApplicationFailure && err.nonRetryable);
        assert.match(err.message, /missing: amount_cents, currency/);
        return true;
      });
  });

  void test('an SQL error is non-retryable and carries the SQLSTATE and the source', async () => {
    await assert.rejects(
      activities.reconcile({ runId: 'r1', ledger: spec, sources: [{ source: 'postgres', name: 'pay-db', query: 'SELECT nope FROM no_such_table' }] }),
      (err: unknown) => {
        assert.ok(err instanceof ApplicationFailure && err.nonRetryable);
        assert.match(err.message, /pay-db/);
        assert.match(err.message, /SQLSTATE 42P01/);
        return true;
      });
  });

  void test('an unreachable database is retryable', async () => {
    await assert.rejects(
      activities.reconcile({ runId: 'r1', ledger: spec, sources: [{ source: 'postgres', url: 'postgres://postgres@127.0.0.1:1/payments', query: 'SELECT 1' }] }),
      (err: unknown) => {
        assert.ok(!(err instanceof ApplicationFailure && err.nonRetryable));
        assert.match((err as Error).message, /cannot connect/);
        return true;
      });
  });
});

void describe("the load engine's outcome log is the default ground truth", () => {
  after(async () => {
    await closeOutcomeDbs();
  });

  void test('outcomes written by the load engine (then redelivery) drive the classes', async () => {
    const runId = `load-${suffix()}`;
    const spec: LedgerSpec = { messages: 6, seed: 2, amount_cents: [100, 900], currency: 'usd', customers: 2 };
    const e = entries(runId, spec);
    const pool = await outcomeDb();
    const outcome = (x: LedgerEntry, status: OutcomeStatus): EntryOutcome => ({
      seq: x.seq, message_id: x.message_id, idempotency_key: x.idempotency_key, status, payment_id: status === 'acknowledged' ? `pay_${x.seq}` : null,
      attempts: 1, error_class: status === 'acknowledged' ? null : 'timeout', http_status: status === 'acknowledged' ? 201 : null, samples: [], dropped: false,
    });
    // 0-2 acknowledged; 3, 4 timed out; 5 failed.
    await writeOutcomes(pool, runId, 0, 1, [...e.slice(0, 3).map((x) => outcome(x, 'acknowledged')),
      outcome(e[3]!, 'unknown'), outcome(e[4]!, 'unknown'), outcome(e[5]!, 'failed')]);
    // Redelivery acknowledged 3; 4 and 5 stay without a definitive answer.
    await recordRedelivery(pool, runId, [{ seq: 3, shard: 0, message_id: e[3]!.message_id, idempotency_key: e[3]!.idempotency_key,
      status: 'acknowledged', payment_id: 'pay_3', attempts: 1, error_class: null, http_status: 200 }]);
    // The system holds 0, 1, 3 and 4 (4 committed although its answer was lost); 2 and 5 are absent.
    await payments.insert([e[0]!, e[1]!, e[3]!, e[4]!].map((x) => asRow(runId, x)));
    const r = await createReconcileActivities().reconcile({ runId, ledger: spec, sources: [{ source: 'postgres', query: payments.query }] });
    assert.deepEqual(r.outcomes, { acknowledged: 4, failed: 1, unknown: 1, none: 0, outside_ledger: 0 });
    assert.deepEqual(counts(r, 'postgres'), { ok: 3, lost: 1, duplicated: 0, ghost: 0, mismatched: 0, unacknowledged: 1, missing: 1 });
    assert.deepEqual(r.sources[0]!.classes.lost.ids, [e[2]!.message_id]);
    assert.deepEqual(r.sources[0]!.classes.missing.ids, [e[5]!.message_id]);
    await pool.query('DELETE FROM load_outcomes WHERE run_id = $1', [runId]);
  });
});
