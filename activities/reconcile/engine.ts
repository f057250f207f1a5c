// The streaming core of reconciliation. Memory is a few bytes per ledger entry and
// per source, never a map of ids: the ledger is deterministic, so a record's id
// parses back to its ledger position and the expected entry is regenerated on the
// spot (and must reproduce the id exactly, so a look-alike id is a ghost).
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { ledgerEntry } from '../ledger/index.ts';
import type { LedgerEntry, LedgerSpec } from '../ledger/index.ts';
import { formatMoney } from './money.ts';
import { failingClasses, outcomeClasses } from './types.ts';
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
const OUTCOME_NONE = 0;
const OUTCOME_FAILED = 1;
const OUTCOME_UNKNOWN = 2;
const OUTCOME_ACK = 3;
const outcomeCode: Record<OutcomeStatus, number> = { failed: OUTCOME_FAILED, unknown: OUTCOME_UNKNOWN, acknowledged: OUTCOME_ACK };

// Per source and ledger entry, one byte: copies seen (saturating at 127) and a
// mismatch bit.
const COPIES = 0x7f;
const MISMATCH = 0x80;

export class LedgerIndex {
  readonly runId: string;
  readonly spec: LedgerSpec;
  readonly count: number;
  private readonly prefix: string;

  constructor(runId: string, spec: LedgerSpec) {
    this.runId = runId;
    this.spec = spec;
    this.count = spec.messages;
    this.prefix = `${runId}-`;
  }

  /** The ledger entry with exactly this id, or null. */
  lookup(messageId: string): LedgerEntry | null {
    const p = this.prefix.length;
    if (messageId.length <= p || messageId.length > p + 12 || !messageId.startsWith(this.prefix)) return null;
    let seq = 0;
    for (let i = p; i < messageId.length; i++) {
      const d = messageId.charCodeAt(i) - 48;
      if (d < 0 || d > 9) return null;
      seq = seq * 10 + d;
    }
    if (seq >= this.count) return null;
    const entry = ledgerEntry(this.runId, this.spec, seq);
    return entry.message_id === messageId ? entry : null;
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
    const entry = this.index.lookup(id);
    if (entry === null) {
      this.ghost.count++;
      addMoney(this.ghost, amountCents, cur);
      if (this.ghost.ids.length < this.maxIds) this.ghost.ids.push(id);
      return;
    }
    const v = this.state[entry.seq]!;
    const copies = v & COPIES;
    const mismatch = amountCents !== entry.amount_cents || cur !== entry.currency;
    this.state[entry.seq] = (copies < COPIES ? copies + 1 : COPIES) | (v & MISMATCH) | (mismatch ? MISMATCH : 0);
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
    const entry = index.lookup(r.message_id);
    if (entry === null) {
      summary.outside_ledger++;
      return;
    }
    const code = outcomeCode[r.outcome] ?? OUTCOME_UNKNOWN;
    if (code > outcomes[entry.seq]!) outcomes[entry.seq] = code;
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

  const classes = tallies.map(() => Object.fromEntries(outcomeClasses.map((c) => [c, emptyTally()])) as Record<OutcomeClass, ClassTally>);
  const put = (t: ClassTally, entry: LedgerEntry) => {
    t.count++;
    addMoney(t, entry.amount_cents, entry.currency);
    if (t.ids.length < maxIds) t.ids.push(entry.message_id);
  };
  for (let seq = 0; seq < n; seq++) {
    const o = outcomes[seq]!;
    if (o === OUTCOME_ACK) summary.acknowledged++;
    else if (o === OUTCOME_UNKNOWN) summary.unknown++;
    else if (o === OUTCOME_FAILED) summary.failed++;
    else summary.none++;
    const entry = ledgerEntry(runId, spec, seq);
    for (let i = 0; i < tallies.length; i++) {
      const v = tallies[i]!.state[seq]!;
      const copies = v & COPIES;
      const cls = classes[i]!;
      if (copies === 0) put(o === OUTCOME_ACK ? cls.lost : cls.missing, entry);
      else if (copies > 1) {
        // The money charged more than once: every copy beyond the first, at the
        // ledger amount (copies may disagree; read order must not change the sum).
        cls.duplicated.count++;
        addMoney(cls.duplicated, entry.amount_cents * (copies - 1), entry.currency);
        if (cls.duplicated.ids.length < maxIds) cls.duplicated.ids.push(entry.message_id);
      } else if (v & MISMATCH) put(cls.mismatched, entry);
      else put(o === OUTCOME_ACK ? cls.ok : cls.unacknowledged, entry);
    }
    if ((seq & 0x3ffff) === 0x3ffff) {
      // Let the worker breathe (heartbeats, other activities) during a long pass.
      opts.onProgress?.({ records: seq, outcomes: outcomeRows, phase: 'classifying' });
      await yieldToLoop();
      if (signal.aborted) throw signal.reason ?? new Error('reconciliation cancelled');
    }
  }

  const results: SourceReconciliation[] = tallies.map((t, i) => {
    const cls = classes[i]!;
    cls.ghost = t.ghost;
    return { source: t.name, kind: t.kind, records: t.records, classes: cls, warnings: t.warnings, duration_ms: t.durationMs };
  });
  const failures = results.flatMap((r) => failingClasses.filter((c) => r.classes[c].count > 0).map((c) => describeFailure(r.source, c, r.classes[c])));
  return {
    runId,
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
