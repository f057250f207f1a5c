// The load engine: open model (arrival-rate executors keep their schedule whatever
// the system does) and closed model (virtual users), user patterns per ledger entry,
// latency from the intended send time (coordinated omission corrected) and from the
// actual send. Every ledger entry of the slice ends in exactly one EntryOutcome.
import { performance } from 'node:perf_hooks';
import { ledgerEntry } from '../ledger/generate.ts';
import type { LedgerEntry, LedgerSpec } from '../ledger/types.ts';
import { errorClass, HttpTarget, statusOutcome } from './http.ts';
import type { AnswerCallback } from './rawhttp.ts';
import { LoadStats, LATE_US, latencySummary, newHistogram, type EntryOutcome, type RequestSample } from './stats.ts';
import { compileTemplate, type BuiltRequest, type CompiledTemplate } from './template.ts';
import type { IdempotencyMismatch, LoadSettings, PatternName, Stage, StressStageResult } from './types.ts';

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

interface Attempt { kind: 'ack' | 'failed' | 'unknown'; paymentId: string | null; status: number | null; cls: string; sample: RequestSample }
interface Chain { kind: 'ack' | 'failed' | 'unknown'; paymentId: string | null; status: number | null; cls: string; attempts: number; samples: RequestSample[] }
type OutcomeCallback = (o: EntryOutcome) => void;

/** A closed-model user, driven by callbacks (see vuNext). */
interface Vu {
  stop: boolean;
  endMs: number;
  intended: number;
  pattern: PatternName;
  /** Inside vuNext's loop: a synchronous answer continues the loop instead of recursing. */
  inLoop: boolean;
  answeredInLoop: boolean;
  onOutcome: OutcomeCallback;
  done: Promise<void>;
  finish: () => void;
}

/** Arrival k's intended time in ms from the start, for the arrival-rate executors. */
interface Schedule { at(k: number): number; limit: number; stages?: { startMs: number; endMs: number; target: number }[] }

export function arrivalSchedule(s: LoadSettings): Schedule {
  if (s.executor === 'constant-arrival-rate') {
    const rate = s.rate!;
    if (s.warmup > 0) {
      // A cold system hit at full rate builds a queue it needs long to drain: ramp from 0
      // to the rate over the warm-up (the ramping schedule with two stages), then hold.
      const ramp = Math.min(s.warmup, s.duration ?? Infinity);
      const hold = s.duration !== undefined ? s.duration - ramp : 1e12;
      const sched = arrivalSchedule({ ...s, executor: 'ramping-arrival-rate', rate: 0, warmup: 0,
        stages: [{ duration: ramp, target: rate }, ...(hold > 0 ? [{ duration: hold, target: rate }] : [])] });
      return s.duration !== undefined ? sched : { at: sched.at, limit: Infinity };
    }
    return { at: (k) => (k * 1000) / rate, limit: s.duration !== undefined ? Math.floor((rate * s.duration) / 1000) : Infinity };
  }
  // ramping-arrival-rate: linear ramps from the previous target; stress: steps.
  const step = s.executor === 'stress';
  const segs: { t0: number; d: number; r0: number; r1: number; a0: number }[] = [];
  let t = 0;
  let a = 0;
  let prev = s.rate ?? 0;
  for (const st of s.stages!) {
    const r0 = step ? st.target : prev;
    const r1 = st.target;
    const d = st.duration / 1000;
    segs.push({ t0: t, d, r0, r1, a0: a });
    a += ((r0 + r1) / 2) * d;
    t += st.duration;
    prev = st.target;
  }
  const limit = Math.floor(a + 1e-9);
  return {
    limit,
    stages: step ? segs.map((g) => ({ startMs: g.t0, endMs: g.t0 + g.d * 1000, target: g.r1 })) : undefined,
    at(k) {
      let i = segs.length - 1;
      while (i > 0 && segs[i]!.a0 > k) i--;
      const g = segs[i]!;
      const x = k - g.a0;
      let tau: number;
      if (Math.abs(g.r1 - g.r0) < 1e-12) tau = g.r0 > 0 ? x / g.r0 : 0;
      else {
        const qa = (g.r1 - g.r0) / (2 * g.d);
        const disc = g.r0 * g.r0 + 4 * qa * x;
        tau = (-g.r0 + Math.sqrt(Math.max(0, disc))) / (2 * qa);
      }
      return g.t0 + Math.min(tau, g.d) * 1000;
    },
  };
}

function vuTarget(stages: Stage[], start: number, elapsedMs: number): number {
  let t = 0;
  let prev = start;
  for (const st of stages) {
    if (elapsedMs < t + st.duration) return Math.round(prev + ((st.target - prev) * (elapsedMs - t)) / st.duration);
    t += st.duration;
    prev = st.target;
  }
  return Math.round(prev);
}

/**
 * Arrivals due within this many milliseconds are sent at once rather than after one
 * more timer (whose lateness would count against the corrected latency). An early
 * send is never credited: latency counts from the earlier of intended and actual send.
 */
const EARLY_MS = 1;

const totalStagesMs = (stages: Stage[] | undefined) => (stages ?? []).reduce((a, s) => a + s.duration, 0);

export class LoadEngine {
  readonly stats = new LoadStats();
  arrivals = 0;
  inFlight = 0;
  /** Entries of `inFlight` sleeping between retries: they hold no request, so they take no slot of max_in_flight. */
  private backingOff = 0;
  private readonly s: LoadSettings;
  private readonly tpl: CompiledTemplate;
  /** Whole requests as text, for the raw client. */
  private readonly wire: ((e: LedgerEntry, runId: string, key: string) => string) | undefined;
  private readonly http: HttpTarget;
  private readonly patterns: { name: PatternName; upTo: number }[];
  private readonly weightSum: number;
  private next: number;
  private t0 = 0;
  private cancelled = false;
  private dispatching = true;
  private readonly sleepers = new Set<() => void>();
  private readonly offset: number;

  private readonly input: EngineInput;

  constructor(input: EngineInput) {
    this.input = input;
    this.s = input.settings;
    this.tpl = compileTemplate(input.settings.request);
    this.next = input.from;
    this.offset = input.timeOffsetMs ?? 0;
    const connections = this.isVus() ? Math.max(1, this.maxVus()) * 2 : this.s.max_in_flight * 2;
    this.http = new HttpTarget(new URL(this.s.target).origin, connections);
    const host = this.http.wireHost;
    // Ledger values derive from the run id and the spec's currencies (ids, keys, numbers): ASCII when those are.
    const ascii = (x: string) => /^[\x20-\x7e]*$/.test(x);
    const currencies = Array.isArray(input.ledger.currency) ? input.ledger.currency : [input.ledger.currency];
    this.wire = host === undefined ? undefined : this.tpl.wire(host, ascii(input.runId) && currencies.every(ascii));
    let acc = 0;
    this.patterns = Object.entries(this.s.mix).filter(([, w]) => w > 0).map(([name, w]) => ({ name: name as PatternName, upTo: (acc += w) }));
    this.weightSum = acc;
  }

  private isVus(): boolean { return this.s.executor === 'constant-vus' || this.s.executor === 'ramping-vus'; }
  private maxVus(): number { return Math.max(this.s.vus ?? 0, ...(this.s.stages ?? []).map((x) => x.target)); }

  /** Milliseconds since this attempt started. */
  private rel(): number { return performance.now() - this.t0; }

  private takeEntry(): LedgerEntry | undefined {
    const end = Math.min(this.input.to, this.input.ledger.messages);
    while (this.next < end && this.input.isDone?.(this.next)) this.next++;
    if (this.next >= end) return undefined;
    return ledgerEntry(this.input.runId, this.input.ledger, this.next++);
  }

  /** Deterministic per entry, so a resumed shard plays the same pattern for the same entry. */
  private patternOf(seq: number): PatternName {
    if (this.patterns.length === 1) return this.patterns[0]!.name;
    const x = ((Math.imul(seq ^ 0x5bd1e995, 0x9e3779b1) >>> 0) / 4294967296) * this.weightSum;
    for (const p of this.patterns) if (x < p.upTo) return p.name;
    return this.patterns[this.patterns.length - 1]!.name;
  }

  private sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.cancelled) return Promise.resolve();
    return new Promise((resolve) => this.sleepThen(ms, resolve));
  }

  /** Calls `then` after ms, or at once when the engine stops (cancel, end of the phase). */
  private sleepThen(ms: number, then: () => void): void {
    const done = () => { clearTimeout(timer); this.sleepers.delete(done); then(); };
    const timer = setTimeout(done, ms);
    this.sleepers.add(done);
  }

  private cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.dispatching = false;
    for (const wake of [...this.sleepers]) wake();
    // Destroying the pool fails every in-flight request at once: "stop sending promptly".
    void this.http.close();
  }

  private emit(o: EntryOutcome): void {
    this.stats.add(o);
    if (o.dropped) this.input.metrics?.dropped(o.error_class ?? 'dropped');
    this.input.onOutcome(o);
  }

  private unsent(e: LedgerEntry, reason: string): void {
    this.emit({ seq: e.seq, message_id: e.message_id, idempotency_key: e.idempotency_key, status: 'unknown', payment_id: null,
      attempts: 0, error_class: reason, http_status: null, samples: [], dropped: true });
  }

  /** Every entry not yet taken ends as not sent (so the outcome log stays complete). */
  private cutRemaining(reason: string): void {
    if (this.input.recordUnsent === false && reason !== 'cancelled') return;
    for (let e = this.takeEntry(); e; e = this.takeEntry()) this.unsent(e, reason);
  }

  async run(): Promise<EngineResult> {
    const signal = this.input.signal;
    const onAbort = () => this.cancel();
    if (signal?.aborted) this.cancel();
    signal?.addEventListener('abort', onAbort, { once: true });
    this.t0 = performance.now();
    let stress: StressStageResult[] | undefined;
    try {
      if (this.isVus()) await this.runClosed();
      else stress = await this.runOpen();
    } finally {
      signal?.removeEventListener('abort', onAbort);
      await this.http.close();
    }
    return { stats: this.stats, arrivals: this.arrivals, activeMs: this.rel(), cancelled: this.cancelled, ...(stress ? { stress } : {}) };
  }

  // ---- open model ------------------------------------------------------------------
  private async runOpen(): Promise<StressStageResult[] | undefined> {
    const sched = arrivalSchedule(this.s);
    const k0 = this.input.arrivalOffset ?? 0;
    const base = sched.at(k0);
    // `this.arrivals` counts this attempt's arrivals from 0: the resumed schedule starts
    // at this attempt's start, its k-th arrival is the run's (k0 + k)-th. (Counting from k0
    // twice made a resumed shard's first arrivals due `base` ms in the past: it burst
    // them out, measured from times inside the harness gap, and p99 read ~20 s.)
    const at = (k: number) => sched.at(k0 + k) - base;
    const limit = sched.limit - k0;
    const backlog: { e: LedgerEntry; intended: number }[] = [];
    let head = 0;
    const max = this.s.max_in_flight;
    const stressStages = sched.stages?.filter((st) => st.endMs > base).map((st) => ({ ...st, startMs: Math.max(0, st.startMs - base), endMs: st.endMs - base }));
    const stressVerdicts: StressStageResult[] = [];
    let stopReason = 'not_sent';

    await new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      let finished = false;
      const finish = () => {
        if (finished || this.dispatching || this.inFlight > 0 || head < backlog.length) return;
        finished = true;
        // Whatever stopped dispatching, entries never taken still get their outcome.
        this.cutRemaining(this.cancelled ? 'cancelled' : stopReason);
        if (timer) clearTimeout(timer);
        resolve();
      };
      const answered = (o: EntryOutcome) => {
        this.emit(o);
        this.inFlight--;
        this.input.metrics?.inFlight(this.inFlight);
        pump();
        finish();
      };
      const start = (e: LedgerEntry, intended: number) => {
        this.inFlight++;
        this.input.metrics?.inFlight(this.inFlight);
        this.runEntry(e, intended, this.patternOf(e.seq), answered);
      };
      const pump = () => {
        const now = this.rel();
        while (head < backlog.length && (this.cancelled || this.inFlight - this.backingOff < max)) {
          const b = backlog[head]!;
          backlog[head++] = undefined as never;
          if (this.cancelled) this.unsent(b.e, 'cancelled');
          else if (now - b.intended > this.s.drop_after) this.unsent(b.e, 'dropped');
          else start(b.e, b.intended);
        }
        if (head > 4096 && head * 2 > backlog.length) { backlog.splice(0, head); head = 0; }
      };
      const dropStale = () => {
        const now = this.rel();
        while (head < backlog.length && now - backlog[head]!.intended > this.s.drop_after) {
          const b = backlog[head]!;
          backlog[head++] = undefined as never;
          this.unsent(b.e, 'dropped');
        }
      };
      const stopDispatch = (reason: string) => {
        if (!this.dispatching) return;
        this.dispatching = false;
        stopReason = reason;
      };
      const tick = () => {
        timer = undefined;
        if (this.cancelled) { stopDispatch('cancelled'); pump(); this.cutRemaining('cancelled'); finish(); return; }
        // Slots freed by entries going to sleep between retries are taken here.
        if (head < backlog.length) pump();
        const now = this.rel();
        while (this.dispatching) {
          if (this.arrivals >= limit) { stopDispatch('not_sent'); break; }
          const when = at(this.arrivals);
          if (when > now + EARLY_MS) break;
          const e = this.takeEntry();
          if (!e) { stopDispatch('not_sent'); break; }
          this.arrivals++;
          if (this.inFlight - this.backingOff < max && head === backlog.length) start(e, when);
          else backlog.push({ e, intended: when });
        }
        dropStale();
        if (!this.dispatching) {
          this.cutRemaining(stopReason);
          if (head < backlog.length) timer = setTimeout(tick, 20);
          finish();
          return;
        }
        // Wake EARLY_MS ahead: a timer fires up to ~1 ms after its (whole-millisecond)
        // delay, so aiming at the due time itself would make most sends late.
        const wait = at(this.arrivals) - EARLY_MS - this.rel();
        timer = wait <= 0 ? (setImmediate(tick), undefined) : setTimeout(tick, Math.min(Math.max(1, Math.floor(wait)), 50));
      };
      if (stressStages) {
        this.stageStats = stressStages.map(() => ({ answered: 0, errors: 0, hist: newHistogram(2) }));
        this.stageBounds = stressStages;
        // Judge the running stage as it goes, so a broken stage stops the ramp at once.
        const limit = this.s.thresholds.p99_ms ?? this.s.thresholds.p95_ms ?? this.s.timeout;
        const watch = setInterval(() => {
          if (!this.dispatching) { clearInterval(watch); return; }
          const now = this.rel();
          const i = stressStages.findIndex((st) => now >= st.startMs && now < st.endMs);
          if (i < 0) return;
          const st = stressStages[i]!;
          const arrived = Math.floor(((now - st.startMs) * st.target) / 1000);
          const overdue = Math.floor((Math.max(0, now - limit - st.startMs) * st.target) / 1000) - this.stageStats![i]!.answered;
          const v = this.liveVerdict(i);
          if (v || (overdue >= 3 && overdue > arrived * 0.01)) stopDispatch('stress_stop');
        }, 100);
        watch.unref();
      }
      tick();
    });
    if (!stressStages) return undefined;
    for (const st of stressStages) {
      const v = this.stageVerdict(st, false);
      if (v.achieved_rate === 0 && stressVerdicts.length && !stressVerdicts[stressVerdicts.length - 1]!.ok) break;
      stressVerdicts.push(v);
      if (!v.ok) break;
    }
    return stressVerdicts;
  }

  private stageStats?: { answered: number; errors: number; hist: ReturnType<typeof newHistogram> }[];
  private stageBounds?: { startMs: number; endMs: number }[];

  private noteStage(intended: number, s: RequestSample): void {
    const b = this.stageBounds!;
    for (let i = 0; i < b.length; i++) {
      if (intended >= b[i]!.startMs && intended < b[i]!.endMs) {
        const st = this.stageStats![i]!;
        st.answered++;
        if (s.cls) st.errors++;
        st.hist.recordValue(Math.max(1, s.c));
        return;
      }
    }
  }

  /** True when stage i already broke a threshold (enough answers to judge). */
  private liveVerdict(i: number): boolean {
    const st = this.stageStats![i]!;
    if (st.answered < 20) return false;
    const th = this.s.thresholds;
    if (th.p99_ms !== undefined && st.hist.getValueAtPercentile(99) / 1000 > th.p99_ms) return true;
    if (th.p95_ms !== undefined && st.hist.getValueAtPercentile(95) / 1000 > th.p95_ms) return true;
    return th.error_rate !== undefined && st.errors / st.answered > th.error_rate;
  }

  private stageVerdict(st: { startMs: number; endMs: number; target: number }, live: boolean): StressStageResult {
    const fromSec = Math.ceil((st.startMs + this.offset) / 1000);
    const toSec = Math.floor((st.endMs + this.offset) / 1000);
    const w = this.stats.window(fromSec, Math.max(fromSec + 1, toSec));
    const secs = Math.max(1, Math.max(fromSec + 1, toSec) - fromSec);
    const lat = latencySummary(w.hist);
    const errRate = w.requests ? w.errors / w.requests : 0;
    const th = this.s.thresholds;
    const reasons: string[] = [];
    if (th.p95_ms !== undefined && lat.p95 > th.p95_ms) reasons.push(`p95 ${lat.p95} ms > ${th.p95_ms} ms`);
    if (th.p99_ms !== undefined && lat.p99 > th.p99_ms) reasons.push(`p99 ${lat.p99} ms > ${th.p99_ms} ms`);
    if (th.error_rate !== undefined && errRate > th.error_rate) reasons.push(`error rate ${errRate.toFixed(4)} > ${th.error_rate}`);
    const expected = st.target * secs;
    // A stalled system answers nothing: silence in the window is a failure, not a pass.
    if (w.requests < expected * 0.9) reasons.push(`only ${w.requests} of ~${Math.round(expected)} requests answered${live ? ' by the stage end' : ''}`);
    const shards = this.input.shards ?? 1;
    return { rate: st.target * shards, achieved_rate: (w.requests / secs) * shards, p95_ms: lat.p95, p99_ms: lat.p99,
      error_rate: errRate, ok: reasons.length === 0, reasons };
  }

  // ---- closed model ----------------------------------------------------------------
  private async runClosed(): Promise<void> {
    const elapsed = this.input.elapsedMs ?? 0;
    const total = this.s.executor === 'constant-vus' ? this.s.duration! : totalStagesMs(this.s.stages);
    const endMs = Math.max(0, total - elapsed);
    const vus: Vu[] = [];
    const spawn = () => {
      let finish!: () => void;
      const done = new Promise<void>((r) => { finish = r; });
      const vu: Vu = { stop: false, endMs, intended: this.rel(), pattern: 'rapid', inLoop: false, answeredInLoop: false,
        onOutcome: (o) => this.vuAnswered(vu, o), done, finish };
      vus.push(vu);
      this.vuNext(vu);
    };
    const endTimer = setTimeout(() => { this.dispatching = false; for (const w of [...this.sleepers]) w(); }, endMs);
    let control: NodeJS.Timeout | undefined;
    if (this.s.executor === 'constant-vus') {
      for (let i = 0; i < this.s.vus!; i++) spawn();
    } else {
      const adjust = () => {
        const target = vuTarget(this.s.stages!, this.s.vus ?? 0, elapsed + this.rel());
        const active = vus.filter((v) => !v.stop);
        for (let i = active.length; i < target; i++) spawn();
        for (let i = target; i < active.length; i++) active[i]!.stop = true;
      };
      adjust();
      control = setInterval(adjust, 100);
    }
    // VUs end at the deadline or when the slice is exhausted; wait for all of them.
    while (true) {
      const n = vus.length;
      await Promise.all(vus.map((v) => v.done));
      if (vus.length === n && (!this.dispatching || this.next >= Math.min(this.input.to, this.input.ledger.messages))) break;
      if (vus.length === n) await this.sleep(50);
    }
    clearTimeout(endTimer);
    if (control) clearInterval(control);
    this.dispatching = false;
    this.cutRemaining(this.cancelled ? 'cancelled' : 'not_sent');
  }

  /**
   * Runs the user's next entries until one is in flight (or the user is done). An
   * answer that arrives synchronously (a cancelled engine) continues this loop rather
   * than recursing; the others continue from vuAnswered.
   */
  private vuNext(vu: Vu): void {
    vu.inLoop = true;
    // The scheduled time decides, not the clock: a timer may wake a hair early.
    while (this.dispatching && !vu.stop && vu.intended < vu.endMs && this.rel() < vu.endMs) {
      const e = this.takeEntry();
      if (!e) break;
      this.arrivals++;
      this.inFlight++;
      vu.pattern = this.patternOf(e.seq);
      vu.answeredInLoop = false;
      this.runEntry(e, vu.intended, vu.pattern, vu.onOutcome);
      if (!vu.answeredInLoop) { vu.inLoop = false; return; }
    }
    vu.inLoop = false;
    vu.finish();
  }

  private vuAnswered(vu: Vu, o: EntryOutcome): void {
    this.inFlight--;
    this.emit(o);
    let wait = 0;
    if (vu.pattern === 'rapid' && this.s.pacing > 0) {
      vu.intended += this.s.pacing;
      wait = vu.intended - this.rel();
    } else if (vu.pattern === 'checkout') {
      const [lo, hi] = this.s.checkout.think_time;
      wait = lo + Math.random() * (hi - lo);
    } else vu.intended = this.rel();
    if (wait > 0 && !this.cancelled) {
      this.sleepThen(wait, () => {
        if (vu.pattern === 'checkout') vu.intended = this.rel();
        this.vuNext(vu);
      });
      return;
    }
    if (vu.pattern === 'checkout') vu.intended = this.rel();
    if (vu.inLoop) vu.answeredInLoop = true;
    else this.vuNext(vu);
  }

  // ---- patterns --------------------------------------------------------------------
  // The hot path (rapid users, an answer on the first try) avoids async layers: each
  // costs microtask hops per request, which showed up as a third of the engine's CPU.
  private runEntry(e: LedgerEntry, intended: number, pattern: PatternName, cb: OutcomeCallback): void {
    if (pattern !== 'rapid') { void this.runPattern(e, intended, pattern).then(cb); return; }
    this.attemptThen(e, e.idempotency_key, intended, (a) => {
      if (a.kind !== 'unknown' || this.s.retry.attempts <= 1 || this.cancelled) cb(this.single(e, a));
      else void this.retries(e, e.idempotency_key, a).then((c) => cb(this.outcome(e, c, undefined)));
    });
  }

  /** The outcome of an entry answered by its first request. */
  private single(e: LedgerEntry, a: Attempt): EntryOutcome {
    return { seq: e.seq, message_id: e.message_id, idempotency_key: e.idempotency_key,
      status: a.kind === 'ack' ? 'acknowledged' : a.kind === 'failed' ? 'failed' : 'unknown',
      payment_id: a.paymentId, attempts: 1, error_class: a.cls || null, http_status: a.status, samples: [a.sample], dropped: false };
  }

  private outcome(e: LedgerEntry, chain: Chain, mismatch: IdempotencyMismatch | undefined, extra?: RequestSample[]): EntryOutcome {
    const o: EntryOutcome = {
      seq: e.seq, message_id: e.message_id, idempotency_key: e.idempotency_key,
      status: chain.kind === 'ack' ? 'acknowledged' : chain.kind === 'failed' ? 'failed' : 'unknown',
      payment_id: chain.paymentId, attempts: chain.attempts, error_class: chain.cls || null, http_status: chain.status,
      samples: extra?.length ? [...chain.samples, ...extra] : chain.samples, dropped: false,
    };
    if (mismatch) o.mismatch = mismatch;
    return o;
  }

  private async runPattern(e: LedgerEntry, intended: number, pattern: PatternName): Promise<EntryOutcome> {
    const key = e.idempotency_key;
    let mismatch: IdempotencyMismatch | undefined;
    let chain: Chain;
    const extra: RequestSample[] = [];
    if (pattern === 'idempotency_race') {
      // The same key twice at once: both answers must name the same payment.
      const [a, b] = await Promise.all([this.chain(e, key, intended), this.chain(e, key, intended)]);
      if (a.kind === 'ack' && b.kind === 'ack' && a.paymentId !== b.paymentId) {
        mismatch = { message_id: e.message_id, idempotency_key: key, payment_ids: [a.paymentId, b.paymentId], pattern: 'idempotency_race' };
      }
      const win = a.kind === 'ack' ? a : b.kind === 'ack' ? b : a.kind === 'failed' ? a : b;
      chain = { ...win, attempts: a.attempts + b.attempts, samples: [...a.samples, ...b.samples] };
    } else {
      chain = await this.chain(e, key, intended);
      if (pattern === 'retry' && chain.kind === 'ack' && !this.cancelled) {
        // A client that lost the answer and sends again: with the same key the system
        // must replay the payment; with a new key (same_key: false) it makes a duplicate.
        const again = await this.attempt(e, this.s.retry.same_key ? key : `${key}-client-retry`, this.rel());
        extra.push(again.sample);
        chain.attempts++;
        if (this.s.retry.same_key && again.kind === 'ack' && again.paymentId !== chain.paymentId) {
          mismatch = { message_id: e.message_id, idempotency_key: key, payment_ids: [chain.paymentId, again.paymentId], pattern: 'retry' };
        }
      } else if (pattern === 'checkout' && chain.kind === 'ack' && chain.paymentId && this.s.checkout.tasks.status > 0) {
        const { pay, status } = this.s.checkout.tasks;
        if (Math.random() < status / (pay + status)) extra.push(await this.statusRead(e, chain.paymentId));
      }
    }
    return this.outcome(e, chain, mismatch, extra);
  }

  /** First request plus retries of unknown outcomes (5xx, timeout, reset, 409, 429). */
  private chain(e: LedgerEntry, key: string, intended: number): Promise<Chain> {
    return this.attempt(e, key, intended).then((a) => {
      if (a.kind !== 'unknown' || this.s.retry.attempts <= 1 || this.cancelled) {
        return { kind: a.kind, paymentId: a.paymentId, status: a.status, cls: a.cls, attempts: 1, samples: [a.sample] };
      }
      return this.retries(e, key, a);
    });
  }

  private async retries(e: LedgerEntry, key: string, first: Attempt): Promise<Chain> {
    const { attempts: max, backoff, same_key } = this.s.retry;
    const samples: RequestSample[] = [first.sample];
    let lastCls = first.cls;
    let last = first;
    for (let n = 2; n <= max; n++) {
      // An outage answered fast would otherwise fill max_in_flight with sleeping entries and
      // queue fresh arrivals behind them: a generator artefact no real user population has.
      this.backingOff++;
      try { await this.sleep(Math.min(backoff * 2 ** (n - 2), 10_000)); } finally { this.backingOff--; }
      if (this.cancelled) break;
      const a = await this.attempt(e, same_key ? key : `${key}-retry${n - 1}`, this.rel());
      samples.push(a.sample);
      if (a.cls) lastCls = a.cls;
      last = a;
      if (a.kind !== 'unknown') break;
    }
    return { kind: last.kind, paymentId: last.paymentId, status: last.status, cls: lastCls, attempts: samples.length, samples };
  }

  private attempt(e: LedgerEntry, key: string, intended: number): Promise<Attempt> {
    return new Promise((resolve) => this.attemptThen(e, key, intended, resolve));
  }

  private attemptThen(e: LedgerEntry, key: string, intended: number, cb: (a: Attempt) => void): void {
    const runId = this.input.runId;
    this.exchange(this.wire ? this.wire(e, runId, key) : this.tpl.build(e, runId, key), intended, true, cb);
  }

  private async statusRead(e: LedgerEntry, paymentId: string): Promise<RequestSample> {
    const path = this.s.checkout.status_path.replace(/\{\{\s*payment_id\s*\}\}/g, encodeURIComponent(paymentId))
      .replace(/\{\{\s*message_id\s*\}\}/g, encodeURIComponent(e.message_id));
    const a = await new Promise<Attempt>((resolve) => this.exchange({ method: 'GET', path, headers: {}, body: undefined }, this.rel(), false, resolve));
    return a.sample;
  }

  private exchange(req: BuiltRequest | string, intended: number, parseAck: boolean, cb: (a: Attempt) => void): void {
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
    this.http.request(req, this.s.timeout, answer, sentAt);
  }

  private settle(intended: number, sentAt: number, kind: Attempt['kind'], cls: string, status: number | null, paymentId: string | null): Attempt {
    const end = performance.now();
    const intendedAbs = this.t0 + intended;
    const sample: RequestSample = { t: intended + this.offset, c: (end - Math.min(intendedAbs, sentAt)) * 1000, u: (end - sentAt) * 1000, cls };
    this.input.metrics?.request(cls || 'ok', sample.c / 1e6, sample.c - sample.u > LATE_US);
    if (this.stageBounds) this.noteStage(intended, sample);
    return { kind, paymentId, status, cls, sample };
  }
}

/** Runs one slice to the end (or cancellation); convenience for tests and benches. */
export async function runLoad(input: EngineInput): Promise<EngineResult> {
  return new LoadEngine(input).run();
}
