// The streaming core of reconciliation. Memory is a few bytes per ledger entry and
// per source, never a map of ids: the ledger is deterministic, so a record's id
// parses back to its ledger position, and the id must be exactly the ledger's (a
// look-alike id is a ghost). The expected amount and currency of every entry are
// regenerated once, up front, into typed arrays.
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { ledgerEntry } from '../ledger/index.ts';
import type { LedgerSpec } from '../ledger/index.ts';
import { formatMoney } from './money.ts';
import { failingClassesOf, outcomeClasses, type ReconcileScope } from './types.ts';
import type {
  ClassTally, OutcomeClass, OutcomeRecord, OutcomeStatus, OutcomeSummary, ReconcileResult, SourceReconciliation,
} from './types.ts';

export const DEFAULT_MAX_IDS = 20;

/** Where a source delivers what it reads; synchronous so that a source's own batching is the only buffering. */
export interface RecordSink {
  add(messageId: string, amountCents: number, currency: string): void;
  warn(message: string): void;
}

/** A configured system of record, ready to read one run. */
export interface RecordSource {
  name: string;
  kind: string;
  read(runId: string, sink: RecordSink, signal: AbortSignal): Promise<void>;
}

/** The load engine's per-message outcome log, as reconciliation needs it. */
export interface OutcomeSource {
  outcomes(runId: string): AsyncIterable<OutcomeRecord | readonly OutcomeRecord[]>;
}

// Outcome codes ordered so that merging several rows of one message keeps the most
// definitive answer: an acknowledgement is never overridden.
const OUTCOME_FAILED = 1;
const OUTCOME_UNKNOWN = 2;
const OUTCOME_ACK = 3;
const outcomeCode: Record<OutcomeStatus, number> = { failed: OUTCOME_FAILED, unknown: OUTCOME_UNKNOWN, acknowledged: OUTCOME_ACK };

// Per source and ledger entry, one byte: copies seen (saturating at 127) and a
// mismatch bit.
const COPIES = 0x7f;
const MISMATCH = 0x80;

/**
 * The ledger as reconciliation needs it: id -> position, and the expected amount
 * and currency per position. `build()` regenerates the ledger once; if every id has
 * the shape `<runId>-<zero-padded seq>`, ids are then checked by shape alone,
 * otherwise by regenerating the entry (slower, same answer).
 */
export class LedgerIndex {
  readonly runId: string;
  readonly spec: LedgerSpec;
  readonly count: number;
  readonly currencies: string[] = [];
  private readonly currencyIndex = new Map<string, number>();
  private readonly prefix: string;
  private amounts: Uint32Array | Float64Array = new Uint32Array(0);
  private currencyOf: Uint8Array | Uint16Array = new Uint8Array(0);
  /** Digits of the zero-padded seq when every id has the plain shape; 0 when ids are checked by regeneration. */
  private padWidth = 0;
  private built = false;

  constructor(runId: string, spec: LedgerSpec) {
    this.runId = runId;
    this.spec = spec;
    this.count = spec.messages;
    this.prefix = `${runId}-`;
  }

  /** Regenerates the ledger into the lookup arrays, yielding to the event loop now and then. */
  async build(signal?: AbortSignal): Promise<void> {
    if (this.built) return;
    const n = this.count;
    const [, hi] = this.spec.amount_cents;
    this.amounts = hi <= 0xffffffff ? new Uint32Array(n) : new Float64Array(n);
    const spec = this.spec.currency;
    this.currencyOf = (Array.isArray(spec) ? spec.length : 1) <= 255 ? new Uint8Array(n) : new Uint16Array(n);
    const first = n > 0 ? ledgerEntry(this.runId, this.spec, 0).message_id : '';
    let width = first.startsWith(this.prefix) ? first.length - this.prefix.length : 0;
    for (let seq = 0; seq < n; seq++) {
      const e = ledgerEntry(this.runId, this.spec, seq);
      this.amounts[seq] = e.amount_cents;
      this.currencyOf[seq] = this.currencyCode(e.currency);
      if (width > 0 && e.message_id !== this.prefix + String(seq).padStart(width, '0')) width = 0;
      if ((seq & 0x3ffff) === 0x3ffff) {
        await yieldToLoop();
        if (signal?.aborted) throw signal.reason ?? new Error('aborted');
      }
    }
    this.padWidth = width;
    this.built = true;
  }

  private currencyCode(c: string): number {
    let i = this.currencyIndex.get(c);
    if (i === undefined) {
      i = this.currencies.length;
      this.currencies.push(c);
      this.currencyIndex.set(c, i);
    }
    return i;
  }

  /** The position of the ledger entry with exactly this id, or -1. */
  seqOf(messageId: string): number {
    const p = this.prefix.length;
    const len = messageId.length;
    if (len <= p || len > p + 15 || !messageId.startsWith(this.prefix)) return -1;
    let seq = 0;
    let leadingZeros = 0;
    for (let i = p; i < len; i++) {
      const d = messageId.charCodeAt(i) - 48;
      if (d < 0 || d > 9) return -1;
      if (seq === 0 && d === 0) leadingZeros++;
      seq = seq * 10 + d;
    }
    if (seq >= this.count) return -1;
    if (this.padWidth > 0) {
      const digits = len - p;
      const natural = seq === 0 ? 1 : digits - leadingZeros;
      return digits === Math.max(this.padWidth, natural) ? seq : -1;
    }
    return ledgerEntry(this.runId, this.spec, seq).message_id === messageId ? seq : -1;
  }

  amountOf(seq: number): number {
    return this.built ? this.amounts[seq]! : ledgerEntry(this.runId, this.spec, seq).amount_cents;
  }

  currencyCodeOf(seq: number): number {
    return this.currencyOf[seq]!;
  }

  currencyOfSeq(seq: number): string {
    return this.built ? this.currencies[this.currencyOf[seq]!]! : ledgerEntry(this.runId, this.spec, seq).currency;
  }

  messageId(seq: number): string {
    return ledgerEntry(this.runId, this.spec, seq).message_id;
  }
}

/** Prefixes what failed to the error's message, keeping its class (a non-retryable failure stays one). */
function withContext(err: unknown, what: string): Error {
  if (!(err instanceof Error)) return new Error(`${what}: ${String(err)}`);
  err.message = `${what}: ${err.message}`;
  return err;
}

export function emptyTally(): ClassTally {
  return { count: 0, amount_cents: 0, money: {}, ids: [] };
}

function addMoney(t: ClassTally, cents: number, currency: string): void {
  const c = Number.isFinite(cents) ? cents : 0;
  t.amount_cents += c;
  t.money[currency] = (t.money[currency] ?? 0) + c;
}

function normCurrency(c: string): string {
  return typeof c === 'string' ? c.trim().toLowerCase() : String(c);
}

class SourceTally implements RecordSink {
  readonly state: Uint8Array;
  records = 0;
  readonly ghost = emptyTally();
  readonly warnings: string[] = [];
  durationMs = 0;
  private readonly index: LedgerIndex;
  private readonly maxIds: number;
  readonly name: string;
  readonly kind: string;

  constructor(index: LedgerIndex, name: string, kind: string, maxIds: number) {
    this.index = index;
    this.name = name;
    this.kind = kind;
    this.maxIds = maxIds;
    this.state = new Uint8Array(index.count);
  }

  add(messageId: string, amountCents: number, currency: string): void {
    this.records++;
    const id = typeof messageId === 'string' ? messageId : String(messageId);
    const cur = normCurrency(currency);
    const seq = this.index.seqOf(id);
    if (seq < 0) {
      this.ghost.count++;
      addMoney(this.ghost, amountCents, cur);
      if (this.ghost.ids.length < this.maxIds) this.ghost.ids.push(id);
      return;
    }
    const v = this.state[seq]!;
    const copies = v & COPIES;
    const mismatch = amountCents !== this.index.amountOf(seq) || cur !== this.index.currencyOfSeq(seq);
    this.state[seq] = (copies < COPIES ? copies + 1 : COPIES) | (v & MISMATCH) | (mismatch ? MISMATCH : 0);
  }

  warn(message: string): void {
    if (this.warnings.length < 50) this.warnings.push(message);
  }
}

export interface ReconcileOptions {
  maxIds?: number;
  /** Called now and then with records read so far (all sources), for heartbeats. */
  onProgress?: (p: { records: number; outcomes: number; phase: 'reading' | 'classifying' }) => void;
  signal?: AbortSignal;
  /** Which classes break exactly-once (default full). */
  scope?: ReconcileScope;
}

/** Reads the outcome log and every source concurrently, then classifies each ledger entry once. */
export async function reconcileStreams(
  runId: string, spec: LedgerSpec, outcomeSource: OutcomeSource, sources: RecordSource[], opts: ReconcileOptions = {},
): Promise<ReconcileResult> {
  const started = performance.now();
  const maxIds = opts.maxIds ?? DEFAULT_MAX_IDS;
  const index = new LedgerIndex(runId, spec);
  const n = index.count;
  const outcomes = new Uint8Array(n);
  const summary: OutcomeSummary = { acknowledged: 0, failed: 0, unknown: 0, none: 0, outside_ledger: 0 };
  const tallies = sources.map((s) => new SourceTally(index, s.name, s.kind, maxIds));
  const controller = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, controller.signal]) : controller.signal;

  let outcomeRows = 0;
  const progress = opts.onProgress
    ? setInterval(() => opts.onProgress!({ records: tallies.reduce((a, t) => a + t.records, 0), outcomes: outcomeRows, phase: 'reading' }), 1000)
    : undefined;
  progress?.unref();

  const takeOutcome = (r: OutcomeRecord) => {
    outcomeRows++;
    const seq = index.seqOf(r.message_id);
    if (seq < 0) {
      summary.outside_ledger++;
      return;
    }
    const code = outcomeCode[r.outcome] ?? OUTCOME_UNKNOWN;
    if (code > outcomes[seq]!) outcomes[seq] = code;
  };

  const readOutcomes = async () => {
    try {
      for await (const item of outcomeSource.outcomes(runId)) {
        if (signal.aborted) break;
        if (Array.isArray(item)) for (const r of item as readonly OutcomeRecord[]) takeOutcome(r);
        else takeOutcome(item as OutcomeRecord);
      }
    } catch (err) {
      throw withContext(err, `reading the load phase's outcome log failed after ${outcomeRows} rows`);
    }
  };
  const readSource = async (s: RecordSource, t: SourceTally) => {
    const t0 = performance.now();
    try {
      await s.read(runId, t, signal);
    } catch (err) {
      throw withContext(err, `reconcile source "${s.name}" (${s.kind}) failed after ${t.records} records`);
    } finally {
      t.durationMs = Math.round(performance.now() - t0);
    }
  };

  await index.build(signal);

  // One failing source fails the whole reconciliation (a partial read would
  // misreport losses): the others are told to stop, and all are awaited so that
  // no connection outlives the call.
  let firstError: unknown;
  try {
    await Promise.allSettled([readOutcomes(), ...sources.map((s, i) => readSource(s, tallies[i]!))].map((p) =>
      p.catch((err: unknown) => {
        firstError ??= err;
        controller.abort(err);
      })));
  } finally {
    if (progress) clearInterval(progress);
  }
  if (firstError !== undefined) throw firstError;
  opts.onProgress?.({ records: tallies.reduce((a, t) => a + t.records, 0), outcomes: outcomeRows, phase: 'classifying' });

  // Counts and money per source, class and ledger currency in flat arrays: the
  // pass touches no objects per entry. Ids are regenerated for the bounded examples only.
  const C = Math.max(1, index.currencies.length);
  const K = outcomeClasses.length;
  const slot = Object.fromEntries(outcomeClasses.map((c, i) => [c, i])) as Record<OutcomeClass, number>;
  const counts = tallies.map(() => new Float64Array(K));
  const money = tallies.map(() => new Float64Array(K * C));
  const ids = tallies.map(() => outcomeClasses.map(() => [] as string[]));
  const S_OK = slot.ok, S_LOST = slot.lost, S_DUP = slot.duplicated, S_MISMATCH = slot.mismatched;
  const S_UNACK = slot.unacknowledged, S_MISSING = slot.missing;
  for (let seq = 0; seq < n; seq++) {
    const o = outcomes[seq]!;
    if (o === OUTCOME_ACK) summary.acknowledged++;
    else if (o === OUTCOME_UNKNOWN) summary.unknown++;
    else if (o === OUTCOME_FAILED) summary.failed++;
    else summary.none++;
    const amount = index.amountOf(seq);
    const cur = index.currencyCodeOf(seq);
    for (let i = 0; i < tallies.length; i++) {
      const v = tallies[i]!.state[seq]!;
      const copies = v & COPIES;
      // The money charged more than once: every copy beyond the first, at the
      // ledger amount (copies may disagree; read order must not change the sum).
      const k = copies === 0 ? (o === OUTCOME_ACK ? S_LOST : S_MISSING)
        : copies > 1 ? S_DUP
          : v & MISMATCH ? S_MISMATCH
            : o === OUTCOME_ACK ? S_OK : S_UNACK;
      const sums = money[i]!;
      counts[i]![k]!++;
      sums[k * C + cur] = sums[k * C + cur]! + (k === S_DUP ? amount * (copies - 1) : amount);
      const list = ids[i]![k]!;
      if (list.length < maxIds) list.push(index.messageId(seq));
    }
    if ((seq & 0x3ffff) === 0x3ffff) {
      // Let the worker breathe (heartbeats, other activities) during a long pass.
      opts.onProgress?.({ records: seq, outcomes: outcomeRows, phase: 'classifying' });
      await yieldToLoop();
      if (signal.aborted) throw signal.reason ?? new Error('reconciliation cancelled');
    }
  }
  const classes = tallies.map((_, i) => Object.fromEntries(outcomeClasses.map((c, k) => {
    const m: Record<string, number> = {};
    let total = 0;
    for (let j = 0; j < C; j++) {
      const v = money[i]![k * C + j]!;
      if (v !== 0) {
        m[index.currencies[j]!] = v;
        total += v;
      }
    }
    return [c, { count: counts[i]![k]!, amount_cents: total, money: m, ids: ids[i]![k]! }];
  })) as Record<OutcomeClass, ClassTally>);

  const results: SourceReconciliation[] = tallies.map((t, i) => {
    const cls = classes[i]!;
    cls.ghost = t.ghost;
    return { source: t.name, kind: t.kind, records: t.records, classes: cls, warnings: t.warnings, duration_ms: t.durationMs };
  });
  const scope = opts.scope ?? 'full';
  const failures = results.flatMap((r) => failingClassesOf(scope).filter((c) => r.classes[c].count > 0).map((c) => describeFailure(r.source, c, r.classes[c])));
  return {
    runId,
    scope,
    ledgerCount: n,
    outcomes: summary,
    sources: results,
    exactlyOnce: failures.length === 0,
    failures,
    duration_ms: Math.round(performance.now() - started),
  };
}

function describeFailure(source: string, cls: OutcomeClass, t: ClassTally): string {
  const shown = t.ids.slice(0, 5);
  const examples = shown.length > 0 ? `, e.g. ${shown.join(', ')}${t.count > shown.length ? ', …' : ''}` : '';
  return `${source}: ${t.count} ${cls} (${formatMoney(t.money)})${examples}`;
}
