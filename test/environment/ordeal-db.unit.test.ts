// Ordeal's own database out of reach (activities/environment/ordeal-db.ts): which errors
// count, what the reason says (never the password), and the bounded wait before a
// non-retryable failure, against a real loopback port nothing listens on.
import { createServer, type AddressInfo } from 'node:net';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import pg from 'pg';
import { isUnreachable, ORDEAL_DB_UNAVAILABLE, unreachableMessage, whereIs, withOrdealDb } from '../../activities/environment/ordeal-db.ts';

const coded = (code: string, message = code) => Object.assign(new Error(message), { code });

/** A loopback port that was just free: bound, then closed. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

void test('unreachable: refused, reset, timed out, shutting down, wrapped or aggregated; not a query error', () => {
  for (const code of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', '57P01', '57P03']) assert.equal(isUnreachable(coded(code)), true, code);
  assert.equal(isUnreachable(new Error('persisting failed', { cause: coded('ECONNREFUSED') })), true, 'through a cause');
  assert.equal(isUnreachable(new AggregateError([coded('ECONNREFUSED'), coded('ECONNREFUSED')], '')), true, 'IPv4 + IPv6 both refused');
  assert.equal(isUnreachable(new Error('timeout exceeded when trying to connect')), true);
  assert.equal(isUnreachable(new Error('Connection terminated unexpectedly')), true);
  assert.equal(isUnreachable(coded('42601', 'syntax error at or near "SELEC"')), false);
  assert.equal(isUnreachable(coded('23505', 'duplicate key value violates unique constraint')), false);
  assert.equal(isUnreachable(new Error('disk full')), false);
  assert.equal(isUnreachable(undefined), false);
});

void test('the reason names Ordeal\'s database by host, port and name, never its credentials', () => {
  assert.equal(whereIs('postgres://alice:s3cret@db.internal:5433/ordeal'), 'db.internal:5433/ordeal');
  assert.equal(whereIs('postgres://postgres@127.0.0.1:5433/ordeal?sslmode=disable'), '127.0.0.1:5433/ordeal');
  assert.equal(whereIs('not a url s3cret'), 'an unparsable ORDEAL_DB_URL');
  const m = unreachableMessage('persisting the ledger', 'postgres://alice:s3cret@db.internal:5433/ordeal', coded('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5433'), 15_400);
  assert.equal(m, "Ordeal's database (db.internal:5433/ordeal) is unreachable while persisting the ledger: connect ECONNREFUSED 127.0.0.1:5433 "
    + '(waited 15 s; check that it is running, or ORDEAL_DB_URL)');
  assert.doesNotMatch(m, /s3cret|alice/);
});

void test('a database nothing listens for: retried for the wait, then a non-retryable OrdealDatabaseUnavailable', async () => {
  const port = await deadPort();
  const url = `postgres://postgres:pw@127.0.0.1:${port}/ordeal`;
  let calls = 0;
  const waits: number[] = [];
  const t0 = Date.now();
  const err = await withOrdealDb({ url, what: 'persisting the ledger', waitMs: 600, onWait: (n) => waits.push(n) }, async () => {
    calls++;
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
    await c.connect();
    await c.end();
  }).then(() => null, (e: unknown) => e);
  const took = Date.now() - t0;
  assert.ok(err instanceof ApplicationFailure, String(err));
  assert.equal(err.type, ORDEAL_DB_UNAVAILABLE);
  assert.equal(err.nonRetryable, true);
  assert.match(err.message, new RegExp(`^Ordeal's database \\(127\\.0\\.0\\.1:${port}/ordeal\\) is unreachable while persisting the ledger: .*ECONNREFUSED`));
  assert.doesNotMatch(err.message, /:pw@/);
  assert.ok(took >= 600 && took < 5000, `gave up after ${took} ms`);
  assert.ok(calls >= 3, `tried ${calls} times`);
  assert.deepEqual(waits, Array.from({ length: calls - 1 }, (_, i) => i + 1));
});

void test('a database back within the wait: the call succeeds; other errors pass through at once', async () => {
  let calls = 0;
  const v = await withOrdealDb({ url: 'postgres://x@127.0.0.1:1/ordeal', what: 'x', waitMs: 5000 }, async () => {
    if (++calls < 3) throw coded('ECONNREFUSED');
    return 42;
  });
  assert.deepEqual([v, calls], [42, 3]);
  calls = 0;
  await assert.rejects(withOrdealDb({ url: 'postgres://x@127.0.0.1:1/ordeal', what: 'x', waitMs: 5000 }, async () => {
    calls++;
    throw coded('42P01', 'relation "ledger_entries" does not exist');
  }), /relation "ledger_entries" does not exist/);
  assert.equal(calls, 1);
});
