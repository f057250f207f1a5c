// What a load run measured: counts, two HdrHistograms (µs; from the intended send
// time and from the actual send), a per-second timeline and idempotency mismatches.
// Everything encodes to plain data (heartbeats, results) and merges exactly.
import * as hdr from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';
import type { IdempotencyMismatch, LatencySummary, LoadCounts, OutcomeFields, TimelinePoint } from './types.ts';

/** A request sent later than this after its intended time counts as late. */
export const LATE_US = 10_000;
const MAX_MISMATCHES = 1000;

export function newHistogram(digits: 2 | 3 = 3): Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: digits, autoResize: true });
}
export function decodeHistogram(s: string): Histogram {
  return hdr.decodeFromCompressedBase64(s, 32, false);
}
export function encodeHistogram(h: Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

/** One HTTP request of a ledger entry: intended ms since phase start, latencies in µs, error class ('' = ok). */
export interface RequestSample { t: number; c: number; u: number; cls: string }

/** The final outcome of one ledger entry, as the engine produces it. */
export interface EntryOutcome extends OutcomeFields {
  samples: RequestSample[];
  dropped: boolean;
  mismatch?: IdempotencyMismatch;
}

export function emptyCounts(): LoadCounts {
  return { sent: 0, requests: 0, acked: 0, failed: 0, unknown: 0, late: 0, dropped: 0, retries: 0, errorsByClass: {} };
}

export function addCounts(a: LoadCounts, b: LoadCounts): LoadCounts {
  const errorsByClass = { ...a.errorsByClass };
  for (const [k, v] of Object.entries(b.errorsByClass)) errorsByClass[k] = (errorsByClass[k] ?? 0) + v;
  return { sent: a.sent + b.sent, requests: a.requests + b.requests, acked: a.acked + b.acked, failed: a.failed + b.failed,
    unknown: a.unknown + b.unknown, late: a.late + b.late, dropped: a.dropped + b.dropped, retries: a.retries + b.retries, errorsByClass };
}

interface Second {
  sent: number; ok: number; errors: number; hist: Histogram;
  /** Cached encoding of `hist` (cleared when a sample lands): heartbeats re-encode only what changed. */
  enc?: string;
  /** Percentiles of a second whose histogram was left out of a heartbeat (old seconds of a long run). */
  fixed?: { p50: number; p95: number; p99: number };
}

/** Heartbeats carry per-second histograms for this many recent seconds (older: percentiles only). */
export const CHECKPOINT_HIST_SECONDS = 900;

export interface EncodedStats {
  counts: LoadCounts;
  histogram: string;
  histogramUncorrected: string;
  timeline: TimelinePoint[];
  mismatches: IdempotencyMismatch[];
}

export class LoadStats {
  counts = emptyCounts();
  hist = newHistogram();
  histU = newHistogram();
  seconds = new Map<number, Second>();
  mismatches: IdempotencyMismatch[] = [];

  /** Folds one entry's final outcome in (each entry exactly once). */
  add(o: EntryOutcome): void {
    const c = this.counts;
    if (o.status === 'acknowledged') c.acked++;
    else if (o.status === 'failed') c.failed++;
    else c.unknown++;
    if (o.dropped) { c.dropped++; this.error(o.error_class ?? 'dropped'); }
    if (o.samples.length) c.sent++;
    if (o.attempts > 1) c.retries += o.attempts - 1;
    for (const s of o.samples) this.sample(s);
    if (o.mismatch) {
      this.error('assertion');
      if (this.mismatches.length < MAX_MISMATCHES) this.mismatches.push(o.mismatch);
    }
  }

  private sample(s: RequestSample): void {
    const c = this.counts;
    c.requests++;
    if (s.c - s.u > LATE_US) c.late++;
    this.hist.recordValue(Math.max(1, s.c));
    this.histU.recordValue(Math.max(1, s.u));
    const sec = Math.max(0, Math.floor(s.t / 1000));
    let b = this.seconds.get(sec);
    if (!b) { b = { sent: 0, ok: 0, errors: 0, hist: newHistogram(2) }; this.seconds.set(sec, b); }
    b.sent++;
    b.enc = undefined;
    b.hist.recordValue(Math.max(1, s.c));
    if (s.cls) { b.errors++; this.error(s.cls); } else b.ok++;
  }

  private error(cls: string): void {
    this.counts.errorsByClass[cls] = (this.counts.errorsByClass[cls] ?? 0) + 1;
  }

  /** Requests whose intended time falls in [fromMs, toMs): for stress stage verdicts. */
  window(fromSec: number, toSec: number): { requests: number; errors: number; hist: Histogram } {
    const hist = newHistogram(2);
    let requests = 0;
    let errors = 0;
    for (const [t, b] of this.seconds) {
      if (t < fromSec || t >= toSec) continue;
      requests += b.sent;
      errors += b.errors;
      hist.add(b.hist);
    }
    return { requests, errors, hist };
  }

  /** `histSeconds`: how many of the latest seconds keep their histograms (heartbeats bound their size). */
  encode(withSecondHistograms = true, histSeconds = Infinity): EncodedStats {
    return {
      counts: structuredClone(this.counts),
      histogram: encodeHistogram(this.hist),
      histogramUncorrected: encodeHistogram(this.histU),
      timeline: timelineOf(this.seconds, withSecondHistograms, histSeconds),
      mismatches: [...this.mismatches],
    };
  }

  static decode(e: EncodedStats): LoadStats {
    const s = new LoadStats();
    s.counts = structuredClone(e.counts);
    s.hist = decodeHistogram(e.histogram);
    s.histU = decodeHistogram(e.histogramUncorrected);
    for (const p of e.timeline) {
      s.seconds.set(p.t, p.hist ? { sent: p.sent, ok: p.ok, errors: p.errors, hist: decodeHistogram(p.hist), enc: p.hist }
        : { sent: p.sent, ok: p.ok, errors: p.errors, hist: newHistogram(2), fixed: { p50: p.p50_ms, p95: p.p95_ms, p99: p.p99_ms } });
    }
    s.mismatches = [...e.mismatches];
    return s;
  }
}

function timelineOf(seconds: Map<number, Second>, withHist: boolean, histSeconds: number): TimelinePoint[] {
  const sorted = [...seconds.entries()].sort((a, b) => a[0] - b[0]);
  const newest = sorted.length ? sorted[sorted.length - 1]![0] : 0;
  return sorted.map(([t, b]) => {
    // A second restored without its histogram keeps its percentiles (samples landing later are rare: retries).
    if (b.fixed && b.hist.totalCount === 0) return { t, sent: b.sent, ok: b.ok, errors: b.errors, p50_ms: b.fixed.p50, p95_ms: b.fixed.p95, p99_ms: b.fixed.p99 };
    const point: TimelinePoint = { t, sent: b.sent, ok: b.ok, errors: b.errors,
      p50_ms: ms(b.hist.getValueAtPercentile(50)), p95_ms: ms(b.hist.getValueAtPercentile(95)), p99_ms: ms(b.hist.getValueAtPercentile(99)) };
    if (withHist && newest - t < histSeconds) point.hist = b.enc ??= encodeHistogram(b.hist);
    return point;
  });
}

/** Merges shard timelines second by second; exact when points carry their histograms. */
export function mergeTimelines(timelines: TimelinePoint[][]): TimelinePoint[] {
  const seconds = new Map<number, Second & { p99max: number; p95max: number; p50max: number; exact: boolean }>();
  for (const tl of timelines) {
    for (const p of tl) {
      let b = seconds.get(p.t);
      if (!b) { b = { sent: 0, ok: 0, errors: 0, hist: newHistogram(2), p99max: 0, p95max: 0, p50max: 0, exact: true }; seconds.set(p.t, b); }
      b.sent += p.sent; b.ok += p.ok; b.errors += p.errors;
      if (p.hist) b.hist.add(decodeHistogram(p.hist));
      else b.exact = false;
      b.p50max = Math.max(b.p50max, p.p50_ms); b.p95max = Math.max(b.p95max, p.p95_ms); b.p99max = Math.max(b.p99max, p.p99_ms);
    }
  }
  return [...seconds.entries()].sort((a, b) => a[0] - b[0]).map(([t, b]) => b.exact
    ? { t, sent: b.sent, ok: b.ok, errors: b.errors, p50_ms: ms(b.hist.getValueAtPercentile(50)),
      p95_ms: ms(b.hist.getValueAtPercentile(95)), p99_ms: ms(b.hist.getValueAtPercentile(99)) }
    // Without histograms the best bound is the worst shard's percentile.
    : { t, sent: b.sent, ok: b.ok, errors: b.errors, p50_ms: b.p50max, p95_ms: b.p95max, p99_ms: b.p99max });
}

export function ms(us: number): number {
  return Math.round(us) / 1000;
}

export function latencySummary(h: Histogram): LatencySummary {
  if (h.totalCount === 0) return { p50: 0, p95: 0, p99: 0, max: 0, mean: 0 };
  return { p50: ms(h.getValueAtPercentile(50)), p95: ms(h.getValueAtPercentile(95)), p99: ms(h.getValueAtPercentile(99)),
    max: ms(h.maxValue), mean: ms(h.mean) };
}

/** Samples as stored in the outcome log: `t:c:u:cls;...` (compact, replayable on resume). */
export function encodeSamples(samples: RequestSample[]): string {
  let out = '';
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i]!;
    out += (i ? ';' : '') + `${Math.round(s.t)}:${Math.round(s.c)}:${Math.round(s.u)}:${s.cls}`;
  }
  return out;
}
export function decodeSamples(text: string): RequestSample[] {
  if (!text) return [];
  return text.split(';').map((part) => {
    const [t, c, u, cls] = part.split(':');
    return { t: Number(t), c: Number(c), u: Number(u), cls: cls ?? '' };
  });
}
