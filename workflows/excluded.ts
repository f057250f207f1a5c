// The seconds of the load phase that the steady-state thresholds leave out, and why.
// Pure (workflow-safe, no I/O): the workflow passes what it knows, summarizeLoad judges
// the thresholds on every other second. Each reason is one entry of `windowSources`.
// The warm-up window is added by summarizeLoad itself: it is measured from the
// earliest shard's start, which only the shard results know.
import type { ExcludedWindow } from '../activities/load/types.ts';
import type { FaultRecord, RecoveryResult } from '../activities/report/types.ts';

/** A stretch in which no load worker was sending for a shard: the harness's outage, not the system's. */
export interface HarnessGap {
  fromMs: number;
  toMs: number;
  /** e.g. "shard 2 resumed on another worker after 21 s". */
  detail: string;
}

export interface ExclusionInputs {
  /** Epoch ms at which the load phase started (fault positions are relative to it). */
  loadStartedAt: number;
  /** Settling time after recovery (load.thresholds.settle). */
  settleMs: number;
  /** Null when nothing was measured (no faults, or the run ended first). */
  recovery: RecoveryResult | null;
  faults: readonly FaultRecord[];
  harnessGaps?: readonly HarnessGap[];
}

/** Until the end of the phase: a fault that was never reverted, or a system that never recovered. */
export const TO_THE_END = Number.MAX_SAFE_INTEGER;

/**
 * Each fault from a second before its injection (requests in flight when it struck) to
 * the end of recovery plus settling.
 */
function faultWindows(i: ExclusionInputs): ExcludedWindow[] {
  const recoveryMs = i.recovery === null ? 0 : Math.max(i.recovery.time_to_healthy_ms ?? 0, i.recovery.time_to_first_success_ms ?? 0);
  const neverRecovered = i.recovery !== null && !i.recovery.recovered;
  return i.faults.map((f) => ({
    fromMs: Date.parse(f.handle.injectedAt) - 1000,
    toMs: f.revertedAtS === null || neverRecovered ? TO_THE_END : i.loadStartedAt + f.revertedAtS * 1000 + recoveryMs + i.settleMs,
    why: `${f.handle.type} on ${f.handle.target}: fault, recovery and ${i.settleMs / 1000} s settling`,
  }));
}

function harnessGapWindows(i: ExclusionInputs): ExcludedWindow[] {
  return (i.harnessGaps ?? []).map((g) => ({ fromMs: g.fromMs, toMs: g.toMs, why: `harness gap: ${g.detail}` }));
}

const windowSources: readonly ((i: ExclusionInputs) => ExcludedWindow[])[] = [
  faultWindows,
  harnessGapWindows,
];

export function excludedWindows(inputs: ExclusionInputs): ExcludedWindow[] {
  return windowSources.flatMap((source) => source(inputs));
}
