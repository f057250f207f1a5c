// Merging shard results is exact: histograms add, counts sum, timelines merge second
// by second from their own histograms. Thresholds are judged on the merged numbers —
// by default only on steady-state seconds: a latency SLO is a promise about the system
// at rest, so the warm-up and every fault window (with its recovery and settling) are
// left out of it and reported beside it. Exactly-once is judged over everything, elsewhere.
import { gapWindows } from './gaps.ts';
import { addCounts, decodeHistogram, emptyCounts, latencySummary, mergeTimelines, newHistogram } from './stats.ts';
import type { ExcludedRange, ExcludedWindow, LoadSettings, LoadShardResult, LoadSummary, StressStageResult, ThresholdWindows, WindowStats } from './types.ts';

/**
 * `excluded`: fault windows as the workflow saw them (wall clock, from just before the
 * injection to the end of recovery + settle); the warm-up is added from the settings.
 */
export function summarize(results: LoadShardResult[], settings: LoadSettings, excluded: ExcludedWindow[] = []): LoadSummary {
  let counts = emptyCounts();
  const hist = newHistogram();
  const histU = newHistogram();
  for (const r of results) {
    counts = addCounts(counts, r.counts);
    hist.add(decodeHistogram(r.histogram));
    histU.add(decodeHistogram(r.histogramUncorrected));
  }
  const timeline = mergeTimelines(results.map((r) => r.timeline));
  const start = Math.min(...results.map((r) => Date.parse(r.startedAt)));
  const end = Math.max(...results.map((r) => Date.parse(r.endedAt)));
  const seconds = results.length ? Math.max(0.001, (end - start) / 1000) : 0;
  const requestErrors = timeline.reduce((a, p) => a + p.errors, 0);
  const error_rate = counts.requests ? requestErrors / counts.requests : 0;
  const achieved_rate = seconds ? counts.requests / seconds : 0;
  const latency_ms = latencySummary(hist);

  const th = settings.thresholds;
  // Harness gaps come with the shard results: seconds in which no load worker was sending
  // for a shard are the harness's outage, left out like a fault window.
  const gaps = results.flatMap((r) => r.gaps ?? []);
  const windows = judgedWindows(results, settings, [...excluded, ...gapWindows(gaps)], start);
  const judged = windows?.judged;
  const over = judged ? ` over ${judged.seconds} steady-state s` : '';
  const thresholds: LoadSummary['thresholds'] = [];
  const check = (name: string, limit: number | undefined, actual: number, higherIsBad: boolean, unit: string) => {
    if (limit === undefined) return;
    const ok = higherIsBad ? actual <= limit : actual >= limit;
    const reason = ok ? `${name} ${fmt(actual)}${unit} within ${fmt(limit)}${unit}${over}`
      : `${name} ${fmt(actual)}${unit} ${higherIsBad ? 'exceeds' : 'is below'} the ${higherIsBad ? 'limit' : 'minimum'} ${fmt(limit)}${unit}${over}`;
    thresholds.push({ name, limit, actual, ok, reason });
  };
  check('p95_ms', th.p95_ms, judged ? judged.latency_ms.p95 : latency_ms.p95, true, ' ms');
  check('p99_ms', th.p99_ms, judged ? judged.latency_ms.p99 : latency_ms.p99, true, ' ms');
  check('error_rate', th.error_rate, judged ? judged.error_rate : error_rate, true, '');
  check('min_rate', th.min_rate, judged ? judged.rate : achieved_rate, false, ' req/s');

  const summary: LoadSummary = {
    counts, latency_ms, latency_uncorrected_ms: latencySummary(histU), achieved_rate, error_rate, timeline, thresholds,
    thresholdsOk: thresholds.every((t) => t.ok),
    ...(windows ? { windows } : {}),
    mismatches: results.flatMap((r) => r.mismatches),
    ...(gaps.length ? { harness_gaps: gaps.map((g) => ({ shard: g.shard, ...secondsOf(g, start), why: g.why, kind: 'harness_gap' as const })) } : {}),
    workers: [...new Set(results.flatMap((r) => r.workers))].sort(),
    cancelled: results.some((r) => r.cancelled),
  };
  if (settings.executor === 'stress') {
    const stress = mergeStress(results.map((r) => r.stress ?? []));
    let knee: number | null = null;
    for (const st of stress) { if (!st.ok) break; knee = st.rate; }
    summary.stress = stress;
    summary.knee_rate = knee;
  }
  return summary;
}

/**
 * The seconds thresholds are judged on. Null when every second counts (scope `all`, or
 * nothing to leave out). Each shard's timeline counts from its own start, so windows are
 * mapped per shard; a second is left out when any part of it overlaps a window.
 */
function judgedWindows(results: LoadShardResult[], settings: LoadSettings, excluded: ExcludedWindow[], start: number): ThresholdWindows | null {
  if (results.length === 0) return null;
  const windows: ExcludedWindow[] = [...excluded];
  if (settings.warmup > 0) windows.push({ fromMs: start, toMs: start + settings.warmup, why: 'warm-up', kind: 'warmup' });
  if (settings.thresholds.scope === 'all' || windows.length === 0) return null;
  const ranges: ExcludedRange[] = windows.map((w) => ({ ...secondsOf(w, start), why: w.why, kind: w.kind ?? 'fault' }))
    .sort((a, b) => a.from_s - b.from_s);
  const judged = new Acc();
  const disturbed = new Acc();
  for (const r of results) {
    const origin = Date.parse(r.startedAt);
    const own = windows.map((w) => [Math.floor((w.fromMs - origin) / 1000), Math.ceil((w.toMs - origin) / 1000)] as const);
    for (const p of r.timeline) {
      const out = own.some(([a, b]) => p.t >= a && p.t < b);
      (out ? disturbed : judged).add(p);
    }
  }
  if (judged.seconds.size === 0) {
    // Nothing steady to judge (faults over the whole phase): every second counts, and the report says so.
    const all = new Acc();
    for (const r of results) for (const p of r.timeline) all.add(p);
    return { scope: 'all', excluded: ranges, judged: all.stats(), disturbed: null,
      note: 'no second of the load phase was outside the warm-up and the fault windows; thresholds judged on every second' };
  }
  return { scope: 'steady', excluded: ranges, judged: judged.stats(), disturbed: disturbed.seconds.size ? disturbed.stats() : null };
}

/** Sums timeline points (possibly of several shards) over a set of seconds. */
class Acc {
  seconds = new Set<number>();
  requests = 0;
  errors = 0;
  hist = newHistogram(2);
  exact = true;
  worst = { p50: 0, p95: 0, p99: 0 };
  add(p: LoadShardResult['timeline'][number]): void {
    this.seconds.add(p.t);
    this.requests += p.sent;
    this.errors += p.errors;
    if (p.hist) this.hist.add(decodeHistogram(p.hist));
    else if (p.sent > 0) {
      this.exact = false;
      this.worst = { p50: Math.max(this.worst.p50, p.p50_ms), p95: Math.max(this.worst.p95, p.p95_ms), p99: Math.max(this.worst.p99, p.p99_ms) };
    }
  }
  stats(): WindowStats {
    const l = latencySummary(this.hist);
    const latency_ms = this.exact ? l : { ...l, p50: Math.max(l.p50, this.worst.p50), p95: Math.max(l.p95, this.worst.p95), p99: Math.max(l.p99, this.worst.p99) };
    return { seconds: this.seconds.size, requests: this.requests, errors: this.errors, error_rate: this.requests ? this.errors / this.requests : 0,
      rate: this.seconds.size ? this.requests / this.seconds.size : 0, latency_ms, exact: this.exact };
  }
}

/** Stage k passed iff it passed on every shard; rates add, latencies take the worst shard. */
function mergeStress(perShard: StressStageResult[][]): StressStageResult[] {
  const n = Math.max(0, ...perShard.map((s) => s.length));
  const out: StressStageResult[] = [];
  for (let k = 0; k < n; k++) {
    const stages = perShard.map((s) => s[k]).filter((s): s is StressStageResult => !!s);
    const missing = perShard.length - stages.length;
    out.push({
      rate: stages[0]!.rate,
      achieved_rate: stages.reduce((a, s) => a + s.achieved_rate / perShard.length, 0),
      p95_ms: Math.max(...stages.map((s) => s.p95_ms)),
      p99_ms: Math.max(...stages.map((s) => s.p99_ms)),
      error_rate: stages.reduce((a, s) => a + s.error_rate, 0) / stages.length,
      ok: missing === 0 && stages.every((s) => s.ok),
      reasons: [...new Set(stages.flatMap((s) => s.reasons)), ...(missing ? [`${missing} shard(s) stopped before this stage`] : [])],
    });
  }
  return out;
}

/** A wall-clock window as whole seconds of the phase (a second partly inside counts as inside). */
function secondsOf(w: { fromMs: number; toMs: number }, start: number): { from_s: number; to_s: number } {
  return { from_s: Math.max(0, Math.floor((w.fromMs - start) / 1000)), to_s: Math.max(0, Math.ceil((w.toMs - start) / 1000)) };
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(n < 1 ? 4 : 1);
}
