// User patterns other than `rapid` (whose first request is the engine's hot path,
// engine.ts runEntry): what each sends for one ledger entry, and which pattern an
// entry plays (by weight in `mix`, deterministic per entry, so a resumed shard plays
// the same pattern for the same entry).
import type { LedgerEntry } from '../ledger/types.ts';
import { entryOutcome, type Attempt, type Chain, type LoadEngine } from './engine.ts';
import { chain } from './retry.ts';
import type { EntryOutcome, RequestSample } from './stats.ts';
import type { IdempotencyMismatch, LoadSettings, PatternName } from './types.ts';

/** Which pattern each entry plays, from the mix's weights. */
export function patternPicker(mix: LoadSettings['mix']): (seq: number) => PatternName {
  let acc = 0;
  const patterns = Object.entries(mix).filter(([, w]) => w > 0).map(([name, w]) => ({ name: name as PatternName, upTo: (acc += w) }));
  const weightSum = acc;
  if (patterns.length === 1) {
    const only = patterns[0]!.name;
    return () => only;
  }
  return (seq) => {
    const x = ((Math.imul(seq ^ 0x5bd1e995, 0x9e3779b1) >>> 0) / 4294967296) * weightSum;
    for (const p of patterns) if (x < p.upTo) return p.name;
    return patterns[patterns.length - 1]!.name;
  };
}

export async function runPattern(engine: LoadEngine, e: LedgerEntry, intended: number, pattern: PatternName): Promise<EntryOutcome> {
  const s = engine.settings;
  const key = e.idempotency_key;
  let mismatch: IdempotencyMismatch | undefined;
  let answer: Chain;
  const extra: RequestSample[] = [];
  if (pattern === 'idempotency_race') {
    // The same key twice at once: both answers must name the same payment.
    const [a, b] = await Promise.all([chain(engine, e, key, intended), chain(engine, e, key, intended)]);
    if (a.kind === 'ack' && b.kind === 'ack' && a.paymentId !== b.paymentId) {
      mismatch = { message_id: e.message_id, idempotency_key: key, payment_ids: [a.paymentId, b.paymentId], pattern: 'idempotency_race' };
    }
    const win = a.kind === 'ack' ? a : b.kind === 'ack' ? b : a.kind === 'failed' ? a : b;
    answer = { ...win, attempts: a.attempts + b.attempts, samples: [...a.samples, ...b.samples] };
  } else {
    answer = await chain(engine, e, key, intended);
    if (pattern === 'retry' && answer.kind === 'ack' && !engine.cancelled) {
      // A client that lost the answer and sends again: with the same key the system
      // must replay the payment; with a new key (same_key: false) it makes a duplicate.
      const again = await engine.attempt(e, s.retry.same_key ? key : `${key}-client-retry`, engine.rel());
      extra.push(again.sample);
      answer.attempts++;
      if (s.retry.same_key && again.kind === 'ack' && again.paymentId !== answer.paymentId) {
        mismatch = { message_id: e.message_id, idempotency_key: key, payment_ids: [answer.paymentId, again.paymentId], pattern: 'retry' };
      }
    } else if (pattern === 'checkout' && answer.kind === 'ack' && answer.paymentId && s.checkout.tasks.status > 0) {
      const { pay, status } = s.checkout.tasks;
      if (Math.random() < status / (pay + status)) extra.push(await statusRead(engine, e, answer.paymentId));
    }
  }
  return entryOutcome(e, answer, answer.attempts, extra.length ? [...answer.samples, ...extra] : answer.samples, mismatch);
}

/** The checkout pattern's status task: a GET of the payment just made. */
async function statusRead(engine: LoadEngine, e: LedgerEntry, paymentId: string): Promise<RequestSample> {
  const path = engine.settings.checkout.status_path.replace(/\{\{\s*payment_id\s*\}\}/g, encodeURIComponent(paymentId))
    .replace(/\{\{\s*message_id\s*\}\}/g, encodeURIComponent(e.message_id));
  const a = await new Promise<Attempt>((resolve) => engine.exchange({ method: 'GET', path, headers: {}, body: undefined }, engine.rel(), false, resolve));
  return a.sample;
}
