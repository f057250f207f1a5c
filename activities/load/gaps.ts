// Harness gaps: when no load worker was sending for a shard. Detected from the shard's
// own heartbeats (pure functions; shard.ts feeds them, summarize.ts leaves the gaps out
// of the thresholds). See docs/load.md, "Harness gaps", for how their arrivals count.
import type { ExcludedWindow, HarnessGap } from './types.ts';

/**
 * The resumed attempt's first seconds still belong to the gap: a restarted load worker
 * opens its connections and runs its hot path unoptimised then (crash trials on a busy
 * 2-core machine: its first second's p99 ~1.2 s, the next ~1 s, then back to normal).
 */
export const RESUME_SETTLE_MS = 2000;
/** Heartbeats tick every second; one that comes this late means the worker's event loop was starved. */
export const STARVED_MS = 3000;

/**
 * The gap a retry resumes across: from the last heartbeat the earlier attempt recorded
 * (its last sign of sending) to `resumedAtMs`, when this attempt starts sending, plus
 * the settle second. Null for a first attempt or a checkpoint without a heartbeat time.
 */
export function resumeGap(o: { shard: number; attempt: number; lastBeatAtMs: number | undefined; resumedAtMs: number;
  previousWorker: string | undefined; worker: string }): HarnessGap | null {
  if (o.attempt <= 1 || o.lastBeatAtMs === undefined || !(o.resumedAtMs >= o.lastBeatAtMs)) return null;
  const awayS = ((o.resumedAtMs - o.lastBeatAtMs) / 1000).toFixed(1);
  return {
    shard: o.shard, kind: 'resumed', fromMs: o.lastBeatAtMs, toMs: o.resumedAtMs + RESUME_SETTLE_MS,
    why: `harness gap: no load worker sent for shard ${o.shard + 1} for ${awayS} s (${o.previousWorker ?? 'its worker'} stopped heartbeating; attempt ${o.attempt} resumed on ${o.worker})`,
  };
}

/** Feeds heartbeat ticks; returns a gap when the tick came STARVED_MS or more after the previous one. */
export class StarvationWatch {
  private last: number;
  private readonly shard: number;
  constructor(shard: number, startMs: number) { this.shard = shard; this.last = startMs; }
  tick(nowMs: number): HarnessGap | null {
    const prev = this.last;
    this.last = nowMs;
    if (nowMs - prev < STARVED_MS) return null;
    return { shard: this.shard, kind: 'starved', fromMs: prev, toMs: nowMs,
      why: `harness gap: shard ${this.shard + 1}'s load worker was starved for ${((nowMs - prev) / 1000).toFixed(1)} s (heartbeat timer late; its event loop did not run)` };
  }
}

/** Every shard's gaps as excluded windows, overlapping ones merged (their reasons joined). */
export function gapWindows(gaps: readonly HarnessGap[]): ExcludedWindow[] {
  const sorted = [...gaps].sort((a, b) => a.fromMs - b.fromMs);
  const out: ExcludedWindow[] = [];
  for (const g of sorted) {
    const last = out[out.length - 1];
    if (last && g.fromMs <= last.toMs) {
      last.toMs = Math.max(last.toMs, g.toMs);
      if (!last.why.includes(g.why)) last.why += `; ${g.why}`;
    } else out.push({ fromMs: g.fromMs, toMs: g.toMs, why: g.why, kind: 'harness_gap' });
  }
  return out;
}
