// State survives the emulator's own restart: a clean stop, and a SIGKILL in the
// middle of a burst of writes (the journal is written before any answer leaves).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, test } from 'node:test';
import Stripe from 'stripe';
import { repoRoot } from '../../scripts/stack/config.ts';
import { startStripeEmulator, StripeEmulatorAdmin } from '../../systems/stripe-emulator/index.ts';
import { harness, rejection, sdk } from './helpers.ts';

test('a clean restart keeps objects, list order, search, refunds and idempotency records; faults are cleared', async () => {
  const h = await harness();
  try {
    const created: Stripe.PaymentIntent[] = [];
    for (let i = 0; i < 12; i++) {
      created.push(await h.stripe.paymentIntents.create({ amount: 1000 + i, currency: 'usd', metadata: { test_run_id: 'restart', message_id: `r-${i}` } },
        { idempotencyKey: `restart-${i}` }));
    }
    const paid = await h.stripe.paymentIntents.confirm(created[3]!.id, { payment_method: 'pm_card_visa' }, { idempotencyKey: 'restart-confirm-3' });
    const refund = await h.stripe.refunds.create({ payment_intent: paid.id, amount: 100 });
    // A later change to a nested field: kept responses must still show the metadata they had.
    await h.stripe.paymentIntents.update(paid.id, { metadata: { note: 'after' } });
    const plain = (o: unknown) => JSON.parse(JSON.stringify(o)) as unknown;
    await h.emu.admin.setFaults({ error_rate_500: 0.5 });
    const listBefore = (await h.stripe.paymentIntents.list({ limit: 100 }).catch(() => undefined));
    await h.emu.admin.clearFaults();
    await h.emu.admin.setFaults({ latency_ms: 10 });

    await h.restart();

    assert.deepEqual((await h.emu.admin.getFaults()).layers, [], 'faults live in memory only');
    const got = await h.stripe.paymentIntents.retrieve(paid.id);
    assert.equal(got.status, 'succeeded');
    assert.equal(got.latest_charge, paid.latest_charge);
    const list = await h.stripe.paymentIntents.list({ limit: 100 });
    assert.deepEqual(list.data.map((p) => p.id), created.map((p) => p.id).reverse());
    if (listBefore) assert.deepEqual(list.data.map((p) => p.id), listBefore.data.map((p) => p.id));
    const found = await h.stripe.paymentIntents.search({ query: "metadata['test_run_id']:'restart'", limit: 100 });
    assert.equal(found.data.length, 12);
    assert.equal((await h.stripe.refunds.retrieve(refund.id)).amount, 100);
    // Refund totals were rebuilt: only the unrefunded rest can still be refunded.
    const tooMuch = await rejection(h.stripe.refunds.create({ payment_intent: paid.id, amount: paid.amount }));
    assert.equal(tooMuch.code, 'amount_too_large');
    // The stored response is the original one, byte for byte in substance.
    const replay = await h.stripe.paymentIntents.create({ amount: 1003, currency: 'usd', metadata: { test_run_id: 'restart', message_id: 'r-3' } },
      { idempotencyKey: 'restart-3' });
    assert.equal(replay.lastResponse.headers['idempotent-replayed'], 'true');
    assert.deepEqual(plain(replay), plain(created[3]), 'the create response, not the current state');
    const confirmReplay = await h.stripe.paymentIntents.confirm(paid.id, { payment_method: 'pm_card_visa' }, { idempotencyKey: 'restart-confirm-3' });
    assert.deepEqual(plain(confirmReplay), plain(paid));
    assert.equal((await h.stripe.paymentIntents.retrieve(paid.id)).metadata.note, 'after');
    const mismatch = await rejection(h.stripe.paymentIntents.create({ amount: 1, currency: 'usd' }, { idempotencyKey: 'restart-4' }));
    assert.equal(mismatch.rawType, 'idempotency_error');
    const stats = await h.emu.admin.stats();
    assert.ok(stats.journal.replayed_lines > 0);
    assert.equal(stats.objects.payment_intents, 12);
    // A second restart replays the compacted journal to the same state.
    await h.restart();
    assert.equal((await h.emu.admin.stats()).objects.payment_intents, 12);
    assert.deepEqual(plain(await h.stripe.paymentIntents.create({ amount: 1003, currency: 'usd', metadata: { test_run_id: 'restart', message_id: 'r-3' } },
      { idempotencyKey: 'restart-3' })), plain(created[3]));
    assert.deepEqual(plain(await h.stripe.paymentIntents.confirm(paid.id, { payment_method: 'pm_card_visa' }, { idempotencyKey: 'restart-confirm-3' })), plain(paid));
  } finally {
    await h.close();
  }
});

interface Child { proc: ChildProcess; url: string; port: number }

function startChild(dataDir: string, port = 0): Promise<Child> {
  const proc = spawn(process.execPath, [join(repoRoot, 'systems/stripe-emulator/main.ts'), '--data-dir', dataDir, '--port', String(port)],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('emulator process did not report listening within 15 s')), 15_000);
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`emulator process exited with ${code}`)); });
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      try {
        const rec = JSON.parse(line) as { msg?: string; url?: string; port?: number };
        if (rec.msg === 'stripe emulator listening' && rec.url && rec.port) {
          clearTimeout(timer);
          proc.removeAllListeners('exit');
          resolve({ proc, url: rec.url, port: rec.port });
        }
      } catch { /* not a log line */ }
    });
  });
}

function killAndWait(c: Child, signal: NodeJS.Signals): Promise<void> {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    c.proc.once('exit', () => resolve());
    c.proc.kill(signal);
  });
}

const children: Child[] = [];
after(async () => {
  for (const c of children) await killAndWait(c, 'SIGKILL');
});

test('SIGKILL in the middle of a write burst: every answered request survives, unanswered keys stay exactly-once', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ordeal-stripe-kill-'));
  try {
    const first = await startChild(dataDir);
    children.push(first);
    const client = sdk({ sdkOptions: { host: '127.0.0.1', port: first.port, protocol: 'http' } }, { timeout: 5000 });
    const acked = new Map<string, string>(); // idempotency key → PaymentIntent id
    const keys = Array.from({ length: 600 }, (_, i) => `kill-${i}`);
    const params = (i: number) => ({ amount: 200 + i, currency: 'usd', metadata: { test_run_id: 'kill', message_id: `k-${i}` } });
    let next = 0;
    const worker = async () => {
      while (next < keys.length) {
        const i = next++;
        try {
          const pi = await client.paymentIntents.create(params(i), { idempotencyKey: keys[i]! });
          acked.set(keys[i]!, pi.id);
        } catch { /* unanswered: the kill */ }
      }
    };
    const workers = Array.from({ length: 16 }, worker);
    // Kill while the burst is in full swing.
    while (acked.size < 150) await new Promise((r) => setTimeout(r, 2));
    await killAndWait(first, 'SIGKILL');
    await Promise.all(workers);
    assert.ok(acked.size >= 150 && acked.size < keys.length, `acked ${acked.size}`);

    const second = await startChild(dataDir, first.port);
    children.push(second);
    const after = sdk({ sdkOptions: { host: '127.0.0.1', port: second.port, protocol: 'http' } });
    const stats = await new StripeEmulatorAdmin(second.url).stats();
    assert.ok(stats.objects.payment_intents >= acked.size, `${stats.objects.payment_intents} stored < ${acked.size} acknowledged`);
    for (const [key, id] of acked) {
      const i = Number(key.slice(5));
      const replay = await after.paymentIntents.create(params(i), { idempotencyKey: key });
      assert.equal(replay.id, id, `acknowledged ${key} must replay its PaymentIntent after the kill`);
    }
    // Redeliver every key (as Ordeal does after a fault): each message ends up exactly once.
    for (let i = 0; i < keys.length; i++) await after.paymentIntents.create(params(i), { idempotencyKey: keys[i]! });
    const seen = new Map<string, number>();
    for await (const pi of after.paymentIntents.search({ query: "metadata['test_run_id']:'kill'", limit: 100 })) {
      seen.set(pi.metadata.message_id!, (seen.get(pi.metadata.message_id!) ?? 0) + 1);
    }
    assert.equal(seen.size, keys.length);
    assert.ok([...seen.values()].every((n) => n === 1), 'no message was charged twice');
    await killAndWait(second, 'SIGTERM');
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a torn last journal line (killed mid-write) is cut off; a corrupt line in the middle refuses to start', async () => {
  const h = await harness();
  const journal = join(h.dataDir, 'journal.jsonl');
  try {
    const pi = await h.stripe.paymentIntents.create({ amount: 500, currency: 'usd' });
    await h.emu.close();
    appendFileSync(journal, '{"t":"pi","o":{"id":"pi_torn","obj');
    h.emu = await startStripeEmulator({ dataDir: h.dataDir, logLevel: 'silent' });
    const stats = await h.emu.admin.stats();
    assert.ok(stats.journal.truncated_bytes > 0);
    assert.equal(stats.objects.payment_intents, 1);
    assert.equal((await sdk(h.emu).paymentIntents.retrieve(pi.id)).id, pi.id);
    await h.emu.close();
    const lines = readFileSync(journal, 'utf8').split('\n');
    writeFileSync(journal, ['{"t":"pi","o":{broken', ...lines].join('\n'));
    await assert.rejects(startStripeEmulator({ dataDir: h.dataDir, logLevel: 'silent' }), /line 1 is corrupt/);
  } finally {
    await h.close();
  }
});
