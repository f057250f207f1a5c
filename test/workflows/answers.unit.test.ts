// The words for what a failing system answered (workflows/answers.ts): pure, no stack needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeErrors, redeliveryFailure, redeliverySummary } from '../../workflows/answers.ts';

const bounds = { timeoutMs: 5000, deadlineMs: 120_000 };

void test('every entry acknowledged: no failure', () => {
  assert.equal(redeliveryFailure({ resent: 40, acked: 40, stillUnacknowledged: 0, requests: 45, answered: 45, errorsByClass: { http_5xx: 5 } }, bounds), null);
});

void test('a hung system: timeouts, and it never answered', () => {
  assert.equal(redeliveryFailure({ resent: 400, acked: 0, stillUnacknowledged: 400, requests: 2000, answered: 0, errorsByClass: { timeout: 2000 } }, bounds),
    'redelivery: 400 entries still unacknowledged after 120 s: 2,000 requests timed out after 5 s; the system never answered during redelivery');
});

void test('a system that answers 5xx, with entries the deadline left unsent', () => {
  assert.equal(redeliveryFailure({ resent: 10, acked: 0, stillUnacknowledged: 12, requests: 50, answered: 50, errorsByClass: { http_5xx: 50 } },
    { timeoutMs: 1000, deadlineMs: 6000 }),
  'redelivery: 12 entries still unacknowledged after 6 s: 50 requests answered with HTTP 5xx; the system answered 50 of 50 requests, none with a 2xx (2 not re-sent before the deadline)');
});

void test('error classes, most frequent first, each in words', () => {
  assert.equal(describeErrors({ connection_reset: 3, connection_refused: 1, timeout: 0, weird: 3 }, 1500),
    '3 connections were reset, 3 requests failed (weird), 1 connection was refused (nothing listening)');
  assert.equal(describeErrors({}, 1000), '');
});

void test('some acknowledged, some not', () => {
  assert.match(redeliveryFailure({ resent: 10, acked: 7, stillUnacknowledged: 3, requests: 25, answered: 22, errorsByClass: { timeout: 3, http_5xx: 15 } }, bounds)!,
    /^redelivery: 3 entries still unacknowledged after 120 s: 15 requests answered with HTTP 5xx, 3 requests timed out after 5 s; 7 of 10 re-sent entries were acknowledged$/);
});

void test('the report\'s redelivery: counts, the error classes that occurred, and the same in words', () => {
  assert.deepEqual(redeliverySummary({ resent: 400, acked: 0, stillUnacknowledged: 400, requests: 2000, answered: 0,
    errorsByClass: { timeout: 1990, connection_reset: 10, http_5xx: 0 } }, { timeoutMs: 5000 }), {
    resent: 400, acked: 0, still_unacknowledged: 400, requests: 2000, answered: 0, errors_by_class: { timeout: 1990, connection_reset: 10 },
    errors: '1,990 requests timed out after 5 s, 10 connections were reset',
  });
  // A clean redelivery has no words to show.
  assert.deepEqual(redeliverySummary({ resent: 3, acked: 3, stillUnacknowledged: 0, requests: 3, answered: 3, errorsByClass: {} }, { timeoutMs: 5000 }),
    { resent: 3, acked: 3, still_unacknowledged: 0, requests: 3, answered: 3, errors_by_class: {} });
});
