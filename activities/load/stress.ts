// Judging the stages of the stress executor: while a stage runs, its answers are
// counted as they arrive, so that a stage that broke a threshold (or whose answers are
// overdue: a stalled system answers nothing) stops the ramp at once; after the phase,
// each stage gets its verdict from the per-second statistics, up to the first that failed.
import type { StageWindow } from './schedule.ts';
import { latencySummary, newHistogram, type LoadStats, type RequestSample } from './stats.ts';
import type { LoadSettings, StressStageResult } from './types.ts';

/** Answers a stage needs before its live numbers may stop the ramp. */
const MIN_ANSWERS_TO_JUDGE = 20;
const WATCH_MS = 100;

export class StressJudge {
  private readonly stages: StageWindow[];
  private readonly settings: LoadSettings;
  private readonly timeOffsetMs: number;
  private readonly shards: number;
  private readonly live: { answered: number; errors: number; hist: ReturnType<typeof newHistogram> }[];

  /** `stages` in ms of this run; `timeOffsetMs` where the run starts in the phase; `shards` to report total rates. */
  constructor(stages: StageWindow[], settings: LoadSettings, timeOffsetMs: number, shards: number) {
    this.stages = stages;
    this.settings = settings;
    this.timeOffsetMs = timeOffsetMs;
    this.shards = shards;
    this.live = stages.map(() => ({ answered: 0, errors: 0, hist: newHistogram(2) }));
  }

  /** Counts an answer toward the stage its intended send time falls in. */
  note(intended: number, s: RequestSample): void {
    const b = this.stages;
    for (let i = 0; i < b.length; i++) {
      if (intended >= b[i]!.startMs && intended < b[i]!.endMs) {
        const st = this.live[i]!;
        st.answered++;
        if (s.cls) st.errors++;
        st.hist.recordValue(Math.max(1, s.c));
        return;
      }
    }
  }

  /** Checks the running stage every 100 ms while `running()`; calls `stop` once it broke. */
  watch(now: () => number, running: () => boolean, stop: () => void): void {
    // An answer later than the threshold (or the request timeout) is overdue.
    const limit = this.settings.thresholds.p99_ms ?? this.settings.thresholds.p95_ms ?? this.settings.timeout;
    const watch = setInterval(() => {
      if (!running()) { clearInterval(watch); return; }
      const t = now();
      const i = this.stages.findIndex((st) => t >= st.startMs && t < st.endMs);
      if (i < 0) return;
      const st = this.stages[i]!;
      const arrived = Math.floor(((t - st.startMs) * st.target) / 1000);
      const overdue = Math.floor((Math.max(0, t - limit - st.startMs) * st.target) / 1000) - this.live[i]!.answered;
      if (this.brokeLive(i) || (overdue >= 3 && overdue > arrived * 0.01)) stop();
    }, WATCH_MS);
    watch.unref();
  }

  /** True when stage i already broke a threshold (enough answers to judge). */
  private brokeLive(i: number): boolean {
    const st = this.live[i]!;
    if (st.answered < MIN_ANSWERS_TO_JUDGE) return false;
    const th = this.settings.thresholds;
    if (th.p99_ms !== undefined && st.hist.getValueAtPercentile(99) / 1000 > th.p99_ms) return true;
    if (th.p95_ms !== undefined && st.hist.getValueAtPercentile(95) / 1000 > th.p95_ms) return true;
    return th.error_rate !== undefined && st.errors / st.answered > th.error_rate;
  }

  /** Each stage's verdict, in order, up to and including the first that failed. */
  verdicts(stats: LoadStats): StressStageResult[] {
    const out: StressStageResult[] = [];
    for (const st of this.stages) {
      const v = this.verdict(stats, st);
      out.push(v);
      if (!v.ok) break;
    }
    return out;
  }

  private verdict(stats: LoadStats, st: StageWindow): StressStageResult {
    const fromSec = Math.ceil((st.startMs + this.timeOffsetMs) / 1000);
    const toSec = Math.floor((st.endMs + this.timeOffsetMs) / 1000);
    const w = stats.window(fromSec, Math.max(fromSec + 1, toSec));
    const secs = Math.max(1, Math.max(fromSec + 1, toSec) - fromSec);
    const lat = latencySummary(w.hist);
    const errRate = w.requests ? w.errors / w.requests : 0;
    const th = this.settings.thresholds;
    const reasons: string[] = [];
    if (th.p95_ms !== undefined && lat.p95 > th.p95_ms) reasons.push(`p95 ${lat.p95} ms > ${th.p95_ms} ms`);
    if (th.p99_ms !== undefined && lat.p99 > th.p99_ms) reasons.push(`p99 ${lat.p99} ms > ${th.p99_ms} ms`);
    if (th.error_rate !== undefined && errRate > th.error_rate) reasons.push(`error rate ${errRate.toFixed(4)} > ${th.error_rate}`);
    const expected = st.target * secs;
    // A stalled system answers nothing: silence in the window is a failure, not a pass.
    if (w.requests < expected * 0.9) reasons.push(`only ${w.requests} of ~${Math.round(expected)} requests answered`);
    return { rate: st.target * this.shards, achieved_rate: (w.requests / secs) * this.shards, p95_ms: lat.p95, p99_ms: lat.p99,
      error_rate: errRate, ok: reasons.length === 0, reasons };
  }
}
