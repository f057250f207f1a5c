// When the load is due, as pure functions of the settings: the arrival schedule of the
// open-model executors (constant and ramping arrival rate, stress steps) and the number
// of virtual users a ramping closed model wants at a moment.
import type { LoadSettings, Stage } from './types.ts';

/** A stage of a stepped profile, in ms from the start of the phase, and its rate. */
export interface StageWindow { startMs: number; endMs: number; target: number }

/** Arrival k's intended time in ms from the start, for the arrival-rate executors. */
export interface Schedule { at(k: number): number; limit: number; stages?: StageWindow[] }

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

/** Virtual users a ramping-vus profile wants `elapsedMs` into the phase: linear from `start` through each stage's target. */
export function vuTarget(stages: Stage[], start: number, elapsedMs: number): number {
  let t = 0;
  let prev = start;
  for (const st of stages) {
    if (elapsedMs < t + st.duration) return Math.round(prev + ((st.target - prev) * (elapsedMs - t)) / st.duration);
    t += st.duration;
    prev = st.target;
  }
  return Math.round(prev);
}

/** The length of a staged profile. */
export const totalStagesMs = (stages: Stage[] | undefined) => (stages ?? []).reduce((a, s) => a + s.duration, 0);
