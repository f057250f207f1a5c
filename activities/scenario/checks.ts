// Checks across sections that no single section's schema can make: a timeline
// whose faults start after the load is over, retries the redelivery deadline
// cannot fit, a ledger the load would run out of. Pure: the numbers are in the
// messages, so a person sees what to change.
import { arrivalSchedule } from '../load/schedule.ts';
import { formatDuration } from './duration.ts';
import type { Scenario, ScenarioProblem } from './schema.ts';

/** How long the load phase sends: its duration, or the sum of its stages. */
export function loadPhaseMs(s: Pick<Scenario, 'load'>): number {
  const stages = (s.load.stages ?? []).reduce((sum, st) => sum + st.duration, 0);
  return Math.max(s.load.duration ?? 0, stages);
}

const arrivalExecutors = new Set(['constant-arrival-rate', 'ramping-arrival-rate', 'stress']);

/** Redelivery's worst case for one entry: every attempt times out, with its backoffs between (redeliver.ts). */
export function redeliverySeriesMs(load: Scenario['load']): number {
  let ms = load.retry.attempts * load.timeout;
  for (let n = 1; n < load.retry.attempts; n++) ms += Math.min(load.retry.backoff * 2 ** (n - 1), 5000);
  return ms;
}

const fmt = (ms: number) => (ms % 1000 === 0 ? formatDuration(ms) : `${(ms / 1000).toFixed(1)}s`);

export function crossSectionProblems(s: Scenario): ScenarioProblem[] {
  const problems: ScenarioProblem[] = [];
  const loadMs = loadPhaseMs(s);
  if (loadMs > 0) {
    for (const [i, f] of s.faults.entries()) {
      if (f.at >= loadMs) {
        problems.push({ path: `faults.${i}.at`, message: `${f.type} on ${f.target} starts at ${fmt(f.at)}, at or after the end of the load phase (${fmt(loadMs)}): nothing would be under load while it is in effect; use at < ${fmt(loadMs)}` });
      }
    }
  }
  const series = redeliverySeriesMs(s.load);
  if (series > s.redelivery.timeout) {
    problems.push({ path: 'load.retry.attempts', message: `${s.load.retry.attempts} attempts × ${fmt(s.load.timeout)} timeout + backoffs = ${fmt(series)} per entry, `
      + `longer than redelivery.timeout (${fmt(s.redelivery.timeout)}): a redelivered entry could never use its attempts; lower attempts or load.timeout, or raise redelivery.timeout` });
  }
  if (arrivalExecutors.has(s.load.executor) && (s.load.rate !== undefined || s.load.stages)) {
    const needed = arrivalSchedule(s.load).limit;
    if (Number.isFinite(needed) && needed > s.ledger.messages) {
      const how = s.load.executor === 'constant-arrival-rate'
        ? `${s.load.rate}/s × ${fmt(s.load.duration ?? 0)}${s.load.warmup ? ` (with a ${fmt(s.load.warmup)} warm-up ramp)` : ''}`
        : `the ${s.load.executor} stages`;
      problems.push({ path: 'ledger.messages', message: `${how} make ${needed.toLocaleString('en')} arrivals, but the ledger has ${s.ledger.messages.toLocaleString('en')} entries: `
        + `the load would run dry ${fmt(Math.round(arrivalSchedule(s.load).at(s.ledger.messages)))} into the phase; use ledger.messages >= ${needed}` });
    }
  }
  return problems;
}
