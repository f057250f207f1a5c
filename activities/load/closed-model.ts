// The closed model (constant-vus, ramping-vus): virtual users, each sending its next
// entry when the last one was answered (after its pacing or think time). Users are
// driven by callbacks, not async loops: this is the throughput benchmark's hot path,
// and every async layer costs microtask hops per request.
import type { LoadEngine } from './engine.ts';
import { totalStagesMs, vuTarget } from './schedule.ts';
import type { EntryOutcome } from './stats.ts';
import type { PatternName } from './types.ts';

/** A closed-model user, driven by callbacks (see next). */
interface Vu {
  stop: boolean;
  endMs: number;
  intended: number;
  pattern: PatternName;
  /** Inside next's loop: a synchronous answer continues the loop instead of recursing. */
  inLoop: boolean;
  answeredInLoop: boolean;
  onOutcome: (o: EntryOutcome) => void;
  done: Promise<void>;
  finish: () => void;
}

export async function runClosed(engine: LoadEngine): Promise<void> {
  const s = engine.settings;
  const elapsed = engine.input.elapsedMs ?? 0;
  const total = s.executor === 'constant-vus' ? s.duration! : totalStagesMs(s.stages);
  const endMs = Math.max(0, total - elapsed);
  const vus: Vu[] = [];
  const spawn = () => {
    let finish!: () => void;
    const done = new Promise<void>((r) => { finish = r; });
    const vu: Vu = { stop: false, endMs, intended: engine.rel(), pattern: 'rapid', inLoop: false, answeredInLoop: false,
      onOutcome: (o) => answered(engine, vu, o), done, finish };
    vus.push(vu);
    next(engine, vu);
  };
  const endTimer = setTimeout(() => { engine.dispatching = false; engine.wakeSleepers(); }, endMs);
  let control: NodeJS.Timeout | undefined;
  if (s.executor === 'constant-vus') {
    for (let i = 0; i < s.vus!; i++) spawn();
  } else {
    const adjust = () => {
      const target = vuTarget(s.stages!, s.vus ?? 0, elapsed + engine.rel());
      const active = vus.filter((v) => !v.stop);
      for (let i = active.length; i < target; i++) spawn();
      for (let i = target; i < active.length; i++) active[i]!.stop = true;
    };
    adjust();
    control = setInterval(adjust, 100);
  }
  // VUs end at the deadline or when the slice is exhausted; wait for all of them.
  while (true) {
    const n = vus.length;
    await Promise.all(vus.map((v) => v.done));
    if (vus.length === n && (!engine.dispatching || engine.exhausted())) break;
    if (vus.length === n) await engine.sleep(50);
  }
  clearTimeout(endTimer);
  if (control) clearInterval(control);
  engine.dispatching = false;
  engine.cutRemaining(engine.cancelled ? 'cancelled' : 'not_sent');
}

/**
 * Runs the user's next entries until one is in flight (or the user is done). An
 * answer that arrives synchronously (a cancelled engine) continues this loop rather
 * than recursing; the others continue from `answered`.
 */
function next(engine: LoadEngine, vu: Vu): void {
  vu.inLoop = true;
  // The scheduled time decides, not the clock: a timer may wake a hair early.
  while (engine.dispatching && !vu.stop && vu.intended < vu.endMs && engine.rel() < vu.endMs) {
    const e = engine.takeEntry();
    if (!e) break;
    engine.arrivals++;
    engine.inFlight++;
    vu.pattern = engine.patternOf(e.seq);
    vu.answeredInLoop = false;
    engine.runEntry(e, vu.intended, vu.pattern, vu.onOutcome);
    if (!vu.answeredInLoop) { vu.inLoop = false; return; }
  }
  vu.inLoop = false;
  vu.finish();
}

function answered(engine: LoadEngine, vu: Vu, o: EntryOutcome): void {
  const s = engine.settings;
  engine.inFlight--;
  engine.emit(o);
  let wait = 0;
  if (vu.pattern === 'rapid' && s.pacing > 0) {
    vu.intended += s.pacing;
    wait = vu.intended - engine.rel();
  } else if (vu.pattern === 'checkout') {
    const [lo, hi] = s.checkout.think_time;
    wait = lo + Math.random() * (hi - lo);
  } else vu.intended = engine.rel();
  if (wait > 0 && !engine.cancelled) {
    engine.sleepThen(wait, () => {
      if (vu.pattern === 'checkout') vu.intended = engine.rel();
      next(engine, vu);
    });
    return;
  }
  if (vu.pattern === 'checkout') vu.intended = engine.rel();
  if (vu.inLoop) vu.answeredInLoop = true;
  else next(engine, vu);
}
