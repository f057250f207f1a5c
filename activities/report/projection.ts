// Business impact people act on: the money this run put at risk, projected to a day
// and a year at the run's own message rate. A projection from one run, labelled so:
// if every day of traffic met the same fault the same way, this is what it would cost.
import { failingClasses, type OutcomeClass } from '../reconcile/types.ts';
import type { ExperimentReport } from './types.ts';

const DAY_S = 86_400;
const YEAR_S = 365 * DAY_S;

export interface ProjectedClass {
  source: string;
  class: OutcomeClass;
  count: number;
  /** This run's money, per currency in minor units. */
  money: Record<string, number>;
  per_day: Record<string, number>;
  per_year: Record<string, number>;
}

export interface MoneyProjection {
  /** Ledger messages sent per second during the load phase: the rate the projection assumes. */
  rate_per_s: number;
  /** Seconds of load the run's figures come from. */
  load_seconds: number;
  label: string;
  classes: ProjectedClass[];
}

/** Seconds of load: the per-second timeline, else the load phase's wall time. */
export function loadSeconds(r: ExperimentReport): number {
  const n = r.load?.timeline.length ?? 0;
  if (n > 0) return n;
  const p = r.phases.find((x) => x.phase === 'load');
  return p?.ended_at ? Math.max(0, (Date.parse(p.ended_at) - Date.parse(p.started_at)) / 1000) : 0;
}

const scale = (m: Record<string, number>, f: number) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, Math.round(v * f)]));

/** null when nothing is at risk or there is no load to project from. */
export function moneyProjection(r: ExperimentReport): MoneyProjection | null {
  const seconds = loadSeconds(r);
  const sent = r.load?.counts.sent ?? 0;
  if (!r.reconcile || seconds <= 0 || sent <= 0) return null;
  const classes: ProjectedClass[] = [];
  for (const s of r.reconcile.sources) {
    for (const c of failingClasses) {
      const t = s.classes[c];
      if (!t || t.count === 0 || Object.values(t.money).every((v) => v === 0)) continue;
      classes.push({ source: s.source, class: c, count: t.count, money: t.money, per_day: scale(t.money, DAY_S / seconds), per_year: scale(t.money, YEAR_S / seconds) });
    }
  }
  if (classes.length === 0) return null;
  const rate = sent / seconds;
  return {
    rate_per_s: Math.round(rate * 10) / 10,
    load_seconds: seconds,
    label: `Projection from this run: the money at risk in ${Math.round(seconds)} s of load at ${Math.round(rate * 10) / 10} messages/s, `
      + 'scaled to a day and a year of the same traffic meeting the same fault. Not a measurement.',
    classes,
  };
}
