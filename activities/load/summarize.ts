// Merging shard results is exact: histograms add, counts sum, timelines merge second
// by second from their own histograms. Thresholds are judged on the merged numbers.
import { addCounts, decodeHistogram, emptyCounts, latencySummary, mergeTimelines, newHistogram } from './stats.ts';
import type { LoadSettings, LoadShardResult, LoadSummary, StressStageResult } from './types.ts';

export function summarize(results: LoadShardResult[], settings: LoadSettings): LoadSummary {
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
  const thresholds: LoadSummary['thresholds'] = [];
  const check = (name: string, limit: number | undefined, actual: number, higherIsBad: boolean, unit: string) => {
    if (limit === undefined) return;
    const ok = higherIsBad ? actual <= limit : actual >= limit;
    const reason = ok ? `${name} ${fmt(actual)}${unit} within ${fmt(limit)}${unit}`
      : `${name} ${fmt(actual)}${unit} ${higherIsBad ? 'exceeds' : 'is below'} the ${higherIsBad ? 'limit' : 'minimum'} ${fmt(limit)}${unit}`;
    thresholds.push({ name, limit, actual, ok, reason });
  };
  check('p95_ms', th.p95_ms, latency_ms.p95, true, ' ms');
  check('p99_ms', th.p99_ms, latency_ms.p99, true, ' ms');
  check('error_rate', th.error_rate, error_rate, true, '');
  check('min_rate', th.min_rate, achieved_rate, false, ' req/s');

  const summary: LoadSummary = {
    counts, latency_ms, latency_uncorrected_ms: latencySummary(histU), achieved_rate, error_rate, timeline, thresholds,
    thresholdsOk: thresholds.every((t) => t.ok),
    mismatches: results.flatMap((r) => r.mismatches),
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

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(n < 1 ? 4 : 1);
}
