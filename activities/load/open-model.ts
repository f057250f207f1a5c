// The open model (constant-arrival-rate, ramping-arrival-rate, stress): arrivals keep
// their schedule whatever the system does. An arrival starts at once when a
// max_in_flight slot is free, waits in a backlog otherwise, and is dropped when it
// waited longer than drop_after; late and dropped sends are counted, and latency is
// measured from the intended time (coordinated omission corrected).
import type { LedgerEntry } from '../ledger/types.ts';
import type { LoadEngine } from './engine.ts';
import { arrivalSchedule } from './schedule.ts';
import type { EntryOutcome } from './stats.ts';
import { StressJudge } from './stress.ts';
import type { StressStageResult } from './types.ts';

/**
 * Arrivals due within this many milliseconds are sent at once rather than after one
 * more timer (whose lateness would count against the corrected latency). An early
 * send is never credited: latency counts from the earlier of intended and actual send.
 */
const EARLY_MS = 1;

export async function runOpen(engine: LoadEngine): Promise<StressStageResult[] | undefined> {
  const s = engine.settings;
  const sched = arrivalSchedule(s);
  const k0 = engine.input.arrivalOffset ?? 0;
  const base = sched.at(k0);
  const at = (k: number) => sched.at(k0 + k) - base;
  const limit = sched.limit - k0;
  const backlog: { e: LedgerEntry; intended: number }[] = [];
  let head = 0;
  const max = s.max_in_flight;
  // Stress stages still ahead of (or around) where this run starts, in this run's ms.
  const stressStages = sched.stages?.filter((st) => st.endMs > base).map((st) => ({ ...st, startMs: Math.max(0, st.startMs - base), endMs: st.endMs - base }));
  const stress = stressStages ? new StressJudge(stressStages, s, engine.timeOffsetMs, engine.input.shards ?? 1) : undefined;
  // Answers count toward their stage from the first request on.
  engine.stress = stress;
  let stopReason = 'not_sent';

  await new Promise<void>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    let finished = false;
    const finish = () => {
      if (finished || engine.dispatching || engine.inFlight > 0 || head < backlog.length) return;
      finished = true;
      // Whatever stopped dispatching, entries never taken still get their outcome.
      engine.cutRemaining(engine.cancelled ? 'cancelled' : stopReason);
      if (timer) clearTimeout(timer);
      resolve();
    };
    const answered = (o: EntryOutcome) => {
      engine.emit(o);
      engine.inFlight--;
      engine.input.metrics?.inFlight(engine.inFlight);
      pump();
      finish();
    };
    const start = (e: LedgerEntry, intended: number) => {
      engine.inFlight++;
      engine.input.metrics?.inFlight(engine.inFlight);
      engine.runEntry(e, intended, engine.patternOf(e.seq), answered);
    };
    const pump = () => {
      const now = engine.rel();
      while (head < backlog.length && (engine.cancelled || engine.inFlight - engine.backingOff < max)) {
        const b = backlog[head]!;
        backlog[head++] = undefined as never;
        if (engine.cancelled) engine.unsent(b.e, 'cancelled');
        else if (now - b.intended > s.drop_after) engine.unsent(b.e, 'dropped');
        else start(b.e, b.intended);
      }
      if (head > 4096 && head * 2 > backlog.length) { backlog.splice(0, head); head = 0; }
    };
    const dropStale = () => {
      const now = engine.rel();
      while (head < backlog.length && now - backlog[head]!.intended > s.drop_after) {
        const b = backlog[head]!;
        backlog[head++] = undefined as never;
        engine.unsent(b.e, 'dropped');
      }
    };
    const stopDispatch = (reason: string) => {
      if (!engine.dispatching) return;
      engine.dispatching = false;
      stopReason = reason;
    };
    const tick = () => {
      timer = undefined;
      if (engine.cancelled) { stopDispatch('cancelled'); pump(); engine.cutRemaining('cancelled'); finish(); return; }
      // Slots freed by entries going to sleep between retries are taken here.
      if (head < backlog.length) pump();
      const now = engine.rel();
      while (engine.dispatching) {
        if (engine.arrivals - k0 >= limit) { stopDispatch('not_sent'); break; }
        const when = at(engine.arrivals - k0);
        if (when > now + EARLY_MS) break;
        const e = engine.takeEntry();
        if (!e) { stopDispatch('not_sent'); break; }
        engine.arrivals++;
        if (engine.inFlight - engine.backingOff < max && head === backlog.length) start(e, when);
        else backlog.push({ e, intended: when });
      }
      dropStale();
      if (!engine.dispatching) {
        engine.cutRemaining(stopReason);
        if (head < backlog.length) timer = setTimeout(tick, 20);
        finish();
        return;
      }
      // Wake EARLY_MS ahead: a timer fires up to ~1 ms after its (whole-millisecond)
      // delay, so aiming at the due time itself would make most sends late.
      const wait = at(engine.arrivals - k0) - EARLY_MS - engine.rel();
      timer = wait <= 0 ? (setImmediate(tick), undefined) : setTimeout(tick, Math.min(Math.max(1, Math.floor(wait)), 50));
    };
    if (stress) {
      // Judge the running stage as it goes, so a broken stage stops the ramp at once.
      stress.watch(() => engine.rel(), () => engine.dispatching, () => stopDispatch('stress_stop'));
    }
    tick();
  });
  return stress?.verdicts(engine.stats);
}
