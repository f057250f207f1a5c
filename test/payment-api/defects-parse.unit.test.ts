// The seeded-defects catalog (systems/defects.ts, pure): names are validated against
// it, and each system acts on its own names only.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { activeDefects, defectCatalog, defectNames, defectsOf, parseDefects, UnknownDefectError } from '../../systems/defects.ts';

void test('parsing: names validated against the catalog, each system gets its own', () => {
  assert.deepEqual(parseDefects(''), []);
  assert.deepEqual(parseDefects('none'), []);
  assert.deepEqual(parseDefects(' ack_before_commit, idempotency_cache_only,ack_before_commit '), ['ack_before_commit', 'idempotency_cache_only']);
  assert.throws(() => parseDefects('ack_before_commit,typo'), (e: Error) => e instanceof UnknownDefectError && /typo/.test(e.message)
    && defectNames.every((n) => e.message.includes(n)));
  assert.equal(defectNames.length, 7);
  assert.deepEqual(defectsOf('stream-processor', parseDefects(defectNames)), ['consumer_at_least_once', 'consumer_commit_before_process']);
  assert.deepEqual([...activeDefects('payment-api', { ORDEAL_DEFECTS: 'consumer_at_least_once,outbox_mark_sent_on_error' })],
    ['outbox_mark_sent_on_error']);
  for (const d of defectNames) assert.ok(defectCatalog[d].trigger.length > 10, `${d} names its trigger`);
});
