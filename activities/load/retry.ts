// Retries of unknown outcomes (5xx, timeout, reset, 409, 429): with the entry's own
// idempotency key (or a new one per retry when same_key is false: the classic bug),
// exponential backoff, and no max_in_flight slot held while sleeping.
import type { LedgerEntry } from '../ledger/types.ts';
import type { Attempt, Chain, LoadEngine } from './engine.ts';
import type { RequestSample } from './stats.ts';

/** An entry answered by its first request: a chain of one. */
export const chainOf = (a: Attempt): Chain =>
  ({ kind: a.kind, paymentId: a.paymentId, status: a.status, cls: a.cls, attempts: 1, samples: [a.sample] });

/** First request plus retries of unknown outcomes. */
export function chain(engine: LoadEngine, e: LedgerEntry, key: string, intended: number): Promise<Chain> {
  return engine.attempt(e, key, intended).then((a) => {
    if (a.kind !== 'unknown' || engine.settings.retry.attempts <= 1 || engine.cancelled) return chainOf(a);
    return retries(engine, e, key, a);
  });
}

/** The retries after a first attempt whose outcome was unknown. */
export async function retries(engine: LoadEngine, e: LedgerEntry, key: string, first: Attempt): Promise<Chain> {
  const { attempts: max, backoff, same_key } = engine.settings.retry;
  const samples: RequestSample[] = [first.sample];
  let lastCls = first.cls;
  let last = first;
  for (let n = 2; n <= max; n++) {
    // An outage answered fast would otherwise fill max_in_flight with sleeping entries and
    // queue fresh arrivals behind them: a generator artefact no real user population has.
    engine.backingOff++;
    try { await engine.sleep(Math.min(backoff * 2 ** (n - 2), 10_000)); } finally { engine.backingOff--; }
    if (engine.cancelled) break;
    const a = await engine.attempt(e, same_key ? key : `${key}-retry${n - 1}`, engine.rel());
    samples.push(a.sample);
    if (a.cls) lastCls = a.cls;
    last = a;
    if (a.kind !== 'unknown') break;
  }
  return { kind: last.kind, paymentId: last.paymentId, status: last.status, cls: lastCls, attempts: samples.length, samples };
}
