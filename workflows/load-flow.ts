// Is the load flowing? A fault is a test of the system under load: injected while no load
// worker sends (a harness gap: the worker died and its shard has not resumed yet), it
// tests nothing, and a defect it should expose is missed (a crash trial on
// ack_before_commit gave PASS that way). Each shard signals progress about once a second,
// so a shard whose last signal is older than STALE_MS has no sender.

/** Three progress intervals: one late signal is not yet a stalled shard. */
export const STALE_MS = 3000;

export interface LoadFlow {
  /** Shards the load phase planned (0..planned-1). */
  planned: number;
  /** Workflow time of each shard's last progress signal. */
  lastSignalAt: ReadonlyMap<number, number>;
  /** Shards whose activity completed: they stop signalling and are not stalled. */
  finished: ReadonlySet<number>;
  /** Workflow time the load phase started: a shard that never signalled counts from then. */
  loadStartedAt: number;
}

/** The shards with no sender at `now` (none before the load phase started). */
export function stalledShards(flow: LoadFlow, now: number, staleMs = STALE_MS): number[] {
  const stalled: number[] = [];
  for (let shard = 0; shard < flow.planned; shard++) {
    if (flow.finished.has(shard)) continue;
    const last = flow.lastSignalAt.get(shard) ?? flow.loadStartedAt;
    if (now - last > staleMs) stalled.push(shard);
  }
  return stalled;
}
