// What the load shards' progress signals add up to: the live totals of the status
// query, and the load summary of a run cut short (no shard results to merge). Pure.
import type { HarnessGap, LoadCounts, LoadProgress, LoadSummary } from '../activities/load/types.ts';

export interface ProgressTotals extends LoadCounts {
  /** Requests per second, summed over the shards' last intervals. */
  rate: number;
  /** The worst shard's p99 so far. */
  p99_ms: number;
}

export function progressTotals(progress: Iterable<LoadProgress>): ProgressTotals {
  const totals: ProgressTotals = { sent: 0, requests: 0, acked: 0, failed: 0, unknown: 0, late: 0, dropped: 0, retries: 0, errorsByClass: {}, rate: 0, p99_ms: 0 };
  for (const shard of progress) {
    const c = shard.counts;
    totals.sent += c.sent; totals.requests += c.requests; totals.acked += c.acked; totals.failed += c.failed;
    totals.unknown += c.unknown; totals.late += c.late; totals.dropped += c.dropped; totals.retries += c.retries;
    for (const [cls, n] of Object.entries(c.errorsByClass)) totals.errorsByClass[cls] = (totals.errorsByClass[cls] ?? 0) + n;
    totals.rate += shard.rate;
    totals.p99_ms = Math.max(totals.p99_ms, shard.p99_ms);
  }
  return totals;
}

/** Every harness gap the shards reported so far (each shard's last progress carries all of its own), oldest first. */
export function progressGaps(progress: Iterable<LoadProgress>): HarnessGap[] {
  return [...progress].flatMap((p) => p.gaps ?? []).sort((a, b) => a.fromMs - b.fromMs || a.shard - b.shard);
}

/**
 * When the load phase was cut short there are no shard results to merge: the partial
 * report carries the last progress the shards signalled (latency: only the worst p99).
 */
export function partialLoadSummary(progress: Iterable<LoadProgress>): LoadSummary {
  const t = progressTotals(progress);
  const { rate, p99_ms, ...counts } = t;
  const latency = { p50: 0, p95: 0, p99: p99_ms, max: p99_ms, mean: 0 };
  return {
    counts,
    latency_ms: latency, latency_uncorrected_ms: latency, achieved_rate: rate, error_rate: t.sent ? (t.failed + t.unknown) / t.sent : 0,
    timeline: [], thresholds: [], thresholdsOk: true, mismatches: [], workers: [], cancelled: true,
  };
}
