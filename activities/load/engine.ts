// The load engine: one slice of the ledger sent to the target, every entry ending in
// exactly one EntryOutcome. This file is the core every model shares: taking entries,
// one request and its latency (from the intended send time, coordinated omission
// corrected, and from the actual send), an entry's first request (the hot path), its
// outcome, cancellation. What decides when entries go is a model: open-model.ts
// (arrival rates, stress) or closed-model.ts (virtual users); schedule.ts has their
// pure timing, stress.ts judges stress stages, patterns.ts plays the user patterns,
// retry.ts retries unknown outcomes.
import { performance } from 'node:perf_hooks';
import { ledgerEntry } from '../ledger/generate.ts';
import type { LedgerEntry, LedgerSpec } from '../ledger/types.ts';
import { runClosed } from './closed-model.ts';
import { errorClass, HttpTarget, statusOutcome } from './http.ts';
import { runOpen } from './open-model.ts';
import { patternPicker, runPattern } from './patterns.ts';
import type { AnswerCallback } from './rawhttp.ts';
import { retries } from './retry.ts';
import { LoadStats, LATE_US, type EntryOutcome, type RequestSample } from './stats.ts';
import type { StressJudge } from './stress.ts';
import { compileTemplate, type BuiltRequest, type CompiledTemplate } from './template.ts';
import type { IdempotencyMismatch, LoadSettings, PatternName, StressStageResult } from './types.ts';

export interface EngineMetrics {
  request(cls: string, latencySeconds: number, late: boolean): void;
  dropped(reason: string): void;
  inFlight(n: number): void;
}

export interface EngineInput {
  runId: string;
  /** This shard's settings (rates already divided by the shard count). */
  settings: LoadSettings;
  ledger: LedgerSpec;
  from: number;
  to: number;
  /** Shard count, to report stress stage rates as totals. */
  shards?: number;
  /** Entries a previous attempt already finished (resume): never sent again. */
  isDone?: (seq: number) => boolean;
  /** Receives every entry's final outcome, exactly once. */
  onOutcome: (o: EntryOutcome) => void;
  signal?: AbortSignal;
  /** Resume: milliseconds of the phase already behind us (timeline continues from there). */
  timeOffsetMs?: number;
  /** Resume: arrivals the schedule already made; duration already used. */
  arrivalOffset?: number;
  elapsedMs?: number;
  metrics?: EngineMetrics;
  /** Record entries left unsent at the end as `not_sent` outcomes (default true; benches turn it off). */
  recordUnsent?: boolean;
}

export interface EngineResult {
  stats: LoadStats;
  arrivals: number;
  activeMs: number;
  cancelled: boolean;
  stress?: StressStageResult[];
}

/** What one request's answer means for its entry. */
export interface Answer { kind: 'ack' | 'failed' | 'unknown'; paymentId: string | null; status: number | null; cls: string }
/** One request: its answer and its latency sample. */
export interface Attempt extends Answer { sample: RequestSample }
/** An entry's requests so far: the deciding answer, the last error class seen, every sample. */
export interface Chain extends Answer { attempts: number; samples: RequestSample[] }
export type OutcomeCallback = (o: EntryOutcome) => void;

/** An entry's final outcome from the answer that decided it. */
export function entryOutcome(e: LedgerEntry, a: Answer, attempts: number, samples: RequestSample[], mismatch?: IdempotencyMismatch): EntryOutcome {
  const o: EntryOutcome = { seq: e.seq, message_id: e.message_id, idempotency_key: e.idempotency_key,
    status: a.kind === 'ack' ? 'acknowledged' : a.kind === 'failed' ? 'failed' : 'unknown',
    payment_id: a.paymentId, attempts, error_class: a.cls || null, http_status: a.status, samples, dropped: false };
  if (mismatch) o.mismatch = mismatch;
  return o;
}

/**
 * One slice's run. Its state is shared with the models, patterns and retries that
 * drive it (the files named above), which is why most of it is not private.
 */
export class LoadEngine {
  readonly stats = new LoadStats();
  readonly input: EngineInput;
  readonly settings: LoadSettings;
  /** Resume: where this run starts in the phase's timeline (ms). */
  readonly timeOffsetMs: number;
  /** Which user pattern an entry plays. */
  readonly patternOf: (seq: number) => PatternName;
  arrivals = 0;
  inFlight = 0;
  /** Entries of `inFlight` sleeping between retries: they hold no request, so they take no slot of max_in_flight. */
  backingOff = 0;
  cancelled = false;
  /** True while the model may start entries. */
  dispatching = true;
  /** Stress executor: counts answers toward their stage (set by the open model). */
  stress: StressJudge | undefined;
  private readonly tpl: CompiledTemplate;
  /** Whole requests as text, for the raw client. */
  private readonly wire: ((e: LedgerEntry, runId: string, key: string) => string) | undefined;
  private readonly http: HttpTarget;
  private readonly end: number;
  private next: number;
  private t0 = 0;
  private readonly sleepers = new Set<() => void>();

  constructor(input: EngineInput) {
    this.input = input;
    this.settings = input.settings;
    this.tpl = compileTemplate(input.settings.request);
    this.next = input.from;
    this.end = Math.min(input.to, input.ledger.messages);
    this.timeOffsetMs = input.timeOffsetMs ?? 0;
    const s = this.settings;
    const connections = this.isVus() ? Math.max(1, Math.max(s.vus ?? 0, ...(s.stages ?? []).map((x) => x.target))) * 2 : s.max_in_flight * 2;
    this.http = new HttpTarget(new URL(s.target).origin, connections);
    const host = this.http.wireHost;
    // Ledger values derive from the run id and the spec's currencies (ids, keys, numbers): ASCII when those are.
    const ascii = (x: string) => /^[\x20-\x7e]*$/.test(x);
    const currencies = Array.isArray(input.ledger.currency) ? input.ledger.currency : [input.ledger.currency];
    this.wire = host === undefined ? undefined : this.tpl.wire(host, ascii(input.runId) && currencies.every(ascii));
    this.patternOf = patternPicker(s.mix);
  }

  private isVus(): boolean { return this.settings.executor === 'constant-vus' || this.settings.executor === 'ramping-vus'; }

  async run(): Promise<EngineResult> {
    const signal = this.input.signal;
    const onAbort = () => this.cancel();
    if (signal?.aborted) this.cancel();
    signal?.addEventListener('abort', onAbort, { once: true });
    this.t0 = performance.now();
    let stress: StressStageResult[] | undefined;
    try {
      if (this.isVus()) await runClosed(this);
      else stress = await runOpen(this);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      await this.http.close();
    }
    return { stats: this.stats, arrivals: this.arrivals, activeMs: this.rel(), cancelled: this.cancelled, ...(stress ? { stress } : {}) };
  }

  /** Milliseconds since this run started. */
  rel(): number { return performance.now() - this.t0; }

  /** The next entry of the slice that a previous attempt has not finished; undefined when none is left. */
  takeEntry(): LedgerEntry | undefined {
    while (this.next < this.end && this.input.isDone?.(this.next)) this.next++;
    if (this.next >= this.end) return undefined;
    return ledgerEntry(this.input.runId, this.input.ledger, this.next++);
  }

  /** Every entry of the slice has been taken. */
  exhausted(): boolean { return this.next >= this.end; }

  sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.cancelled) return Promise.resolve();
    return new Promise((resolve) => this.sleepThen(ms, resolve));
  }

  /** Calls `then` after ms, or at once when the engine stops (cancel, end of the phase). */
  sleepThen(ms: number, then: () => void): void {
    const done = () => { clearTimeout(timer); this.sleepers.delete(done); then(); };
    const timer = setTimeout(done, ms);
    this.sleepers.add(done);
  }

  /** Ends every sleep now (cancel, end of the phase). */
  wakeSleepers(): void {
    for (const wake of [...this.sleepers]) wake();
  }

  private cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.dispatching = false;
    this.wakeSleepers();
    // Destroying the pool fails every in-flight request at once: "stop sending promptly".
    void this.http.close();
  }

  emit(o: EntryOutcome): void {
    this.stats.add(o);
    if (o.dropped) this.input.metrics?.dropped(o.error_class ?? 'dropped');
    this.input.onOutcome(o);
  }

  /** An entry that never got a request (dropped, cancelled, not sent in time). */
  unsent(e: LedgerEntry, reason: string): void {
    this.emit({ seq: e.seq, message_id: e.message_id, idempotency_key: e.idempotency_key, status: 'unknown', payment_id: null,
      attempts: 0, error_class: reason, http_status: null, samples: [], dropped: true });
  }

  /** Every entry not yet taken ends as not sent (so the outcome log stays complete). */
  cutRemaining(reason: string): void {
    if (this.input.recordUnsent === false && reason !== 'cancelled') return;
    for (let e = this.takeEntry(); e; e = this.takeEntry()) this.unsent(e, reason);
  }

  // The hot path (rapid users, an answer on the first try) avoids async layers: each
  // costs microtask hops per request, which showed up as a third of the engine's CPU.
  runEntry(e: LedgerEntry, intended: number, pattern: PatternName, cb: OutcomeCallback): void {
    if (pattern !== 'rapid') { void runPattern(this, e, intended, pattern).then(cb); return; }
    this.attemptThen(e, e.idempotency_key, intended, (a) => {
      if (a.kind !== 'unknown' || this.settings.retry.attempts <= 1 || this.cancelled) cb(entryOutcome(e, a, 1, [a.sample]));
      else void retries(this, e, e.idempotency_key, a).then((c) => cb(entryOutcome(e, c, c.attempts, c.samples)));
    });
  }

  attempt(e: LedgerEntry, key: string, intended: number): Promise<Attempt> {
    return new Promise((resolve) => this.attemptThen(e, key, intended, resolve));
  }

  private attemptThen(e: LedgerEntry, key: string, intended: number, cb: (a: Attempt) => void): void {
    const runId = this.input.runId;
    this.exchange(this.wire ? this.wire(e, runId, key) : this.tpl.build(e, runId, key), intended, true, cb);
  }

  /** One request; `parseAck`: read the payment id from an acknowledgement. */
  exchange(req: BuiltRequest | string, intended: number, parseAck: boolean, cb: (a: Attempt) => void): void {
    const sentAt = performance.now();
    if (this.cancelled) { cb(this.settle(intended, sentAt, 'unknown', 'cancelled', null, null)); return; }
    const answer: AnswerCallback = (err, status, body) => {
      if (err) { cb(this.settle(intended, sentAt, 'unknown', this.cancelled ? 'cancelled' : errorClass(err), null, null)); return; }
      const o = statusOutcome(status);
      let paymentId: string | null = null;
      if (o.kind === 'ack' && parseAck) {
        try { paymentId = this.tpl.ackId(JSON.parse(body)) ?? null; } catch { paymentId = null; }
      }
      cb(this.settle(intended, sentAt, o.kind, o.cls, status, paymentId));
    };
    this.http.request(req, this.settings.timeout, answer, sentAt);
  }

  private settle(intended: number, sentAt: number, kind: Attempt['kind'], cls: string, status: number | null, paymentId: string | null): Attempt {
    const end = performance.now();
    const intendedAbs = this.t0 + intended;
    const sample: RequestSample = { t: intended + this.timeOffsetMs, c: (end - Math.min(intendedAbs, sentAt)) * 1000, u: (end - sentAt) * 1000, cls };
    this.input.metrics?.request(cls || 'ok', sample.c / 1e6, sample.c - sample.u > LATE_US);
    if (this.stress) this.stress.note(intended, sample);
    return { kind, paymentId, status, cls, sample };
  }
}

/** Runs one slice to the end (or cancellation); convenience for tests and benches. */
export async function runLoad(input: EngineInput): Promise<EngineResult> {
  return new LoadEngine(input).run();
}
