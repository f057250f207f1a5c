// One load shard as a Temporal activity. Crash safety: outcomes are persisted in
// numbered batches before they count; the heartbeat carries the counted state (stats,
// the contiguous done-cursor, the last counted batch). A retry after a crash skips
// every entry with a persisted outcome (never re-sending an acknowledged message),
// folds rows persisted after the last heartbeat, and sends everything else (never
// skipping one). Counts and histograms stay exact across the crash.
import { hostname } from 'node:os';
import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import pino from 'pino';
import { LoadEngine } from './engine.ts';
import { resumeGap, StarvationWatch } from './gaps.ts';
import { shardMetrics, shardsActive } from './metrics.ts';
import { maxBatch, outcomeDb, shardRowsFrom, writeOutcomes } from './outcomes.ts';
import { CHECKPOINT_HIST_SECONDS, LoadStats, type EncodedStats, type EntryOutcome } from './stats.ts';
import { loadProgressSignalName, type HarnessGap, type LoadProgress, type LoadShardInput, type LoadShardResult } from './types.ts';

const log = pino({ name: 'ordeal-load' });
/** Read at call time: the worker entry point sets ORDEAL_WORKER_ID after its imports ran. */
export const workerIdentity = (): string => process.env.ORDEAL_WORKER_ID ?? `${hostname()}:${process.pid}`;

/** Heartbeat details: everything a retry needs to resume exactly. */
export interface ShardCheckpoint {
  v: 1;
  /** Last flush batch whose outcomes are folded into `stats`. */
  batch: number;
  /** Every seq below this has a persisted, counted outcome. */
  cursor: number;
  arrivals: number;
  activeMs: number;
  startedAtMs: number;
  stats: EncodedStats;
  workers: string[];
  /** Wall clock of this heartbeat: a retry's harness gap starts at the last one (absent in older checkpoints). */
  beatAtMs?: number;
  /** Harness gaps so far (earlier resumes, starved stretches). */
  gaps?: HarnessGap[];
}

const FLUSH_MS = 100;
const FLUSH_ROWS = 5000;
const HEARTBEAT_MS = 1000;
const DB_GIVE_UP_MS = 60_000;

/** Heartbeats when running as an activity; a no-op when called directly (tests, CLI). */
function activityContext(): Context | undefined {
  try { return Context.current(); } catch { return undefined; }
}

export async function runLoadShard(input: LoadShardInput): Promise<LoadShardResult> {
  const ctx = activityContext();
  const attempt = ctx?.info.attempt ?? 1;
  const hb = ctx?.info.heartbeatDetails as ShardCheckpoint | undefined;
  const { runId, shard, from, to } = input;
  const end = Math.min(to, input.ledger.messages);
  const size = Math.max(0, end - from);
  const pool = await outcomeDb();
  // A retry with no heartbeat (its first attempt died within a second) still belongs to
  // the load phase that started when the shard was first scheduled: its seconds and its
  // gap count from then, not from this attempt (which shifted the whole timeline, and the
  // harness gap went unreported).
  const firstScheduledAtMs = attempt > 1 && ctx ? ctx.info.scheduledTimestampMs : undefined;
  const startedAtMs = hb?.startedAtMs ?? firstScheduledAtMs ?? Date.now();
  const workers = [...new Set([...(hb?.workers ?? []), workerIdentity()])];
  const stats = hb ? LoadStats.decode(hb.stats) : new LoadStats();
  const done = new Uint8Array(size);
  let cursor = hb?.cursor ?? from;
  done.fill(1, 0, Math.max(0, cursor - from));
  const hbBatch = hb?.batch ?? 0;
  let folded = 0;
  for (const row of await shardRowsFrom(pool, runId, cursor, end)) {
    done[row.seq - from] = 1;
    if (row.batch > hbBatch) { stats.add(row); folded++; }
  }
  let batch = Math.max(hbBatch, await maxBatch(pool, runId, shard));
  let counted = hbBatch;
  const advance = () => { while (cursor < end && done[cursor - from]) cursor++; };
  advance();
  if (hb || folded) log.info({ runId, shard, attempt, cursor, folded, worker: workerIdentity() }, 'load shard resuming');

  const gaps: HarnessGap[] = [...(hb?.gaps ?? [])];
  const checkpoint = (engine: LoadEngine): ShardCheckpoint => ({
    v: 1, batch: counted, cursor, arrivals: (hb?.arrivals ?? 0) + engine.arrivals,
    activeMs: (hb?.activeMs ?? 0) + (performance.now() - attemptStart), startedAtMs, stats: stats.encode(true, CHECKPOINT_HIST_SECONDS), workers,
    beatAtMs: Date.now(), gaps,
  });

  // Outcomes are persisted in order, one batch at a time; only persisted ones count.
  let pending: EntryOutcome[] = [];
  let flushing: Promise<void> = Promise.resolve();
  let flushError: Error | undefined;
  const flush = (): Promise<void> => {
    flushing = flushing.then(async () => {
      if (!pending.length) return;
      const rows = pending;
      pending = [];
      const b = ++batch;
      const t0 = Date.now();
      for (let tries = 0; ; tries++) {
        try { await writeOutcomes(pool, runId, shard, b, rows); break; } catch (err) {
          if (Date.now() - t0 > DB_GIVE_UP_MS) { flushError = err as Error; throw err; }
          log.warn({ err, runId, shard, tries }, 'outcome log write failed; retrying');
          await new Promise((r) => setTimeout(r, Math.min(200 * 2 ** tries, 5000)));
        }
      }
      for (const o of rows) { done[o.seq - from] = 1; stats.add(o); }
      counted = b;
      metrics.outcomesWritten(rows.length);
      advance();
    });
    return flushing;
  };

  // The experiment that asked for this load may be over (aborted, cancelled, timed out)
  // before the cancellation reaches us through a heartbeat: its progress signal then
  // fails with WorkflowNotFoundError, and not one more request may go out.
  const orphaned = new AbortController();
  const attemptStart = performance.now();
  const metrics = shardMetrics(input.scenario ?? 'unknown', runId);
  const engine = new LoadEngine({
    runId, settings: input.settings, ledger: input.ledger, from, to: end, shards: input.shards,
    isDone: (seq) => done[seq - from] === 1,
    onOutcome: (o) => { pending.push(o); if (pending.length >= FLUSH_ROWS) void flush().catch(() => undefined); },
    signal: ctx ? AbortSignal.any([ctx.cancellationSignal, orphaned.signal]) : orphaned.signal,
    timeOffsetMs: Date.now() - startedAtMs,
    // Entries with an outcome, not arrivals: entries in flight at a crash arrive again
    // in this attempt, and must not use up a duration-capped schedule.
    arrivalOffset: done.reduce((a, d) => a + d, 0),
    elapsedMs: hb?.activeMs ?? 0,
    metrics,
  });

  // The time since the last heartbeat of the attempt before is the harness's outage:
  // nothing was sent for this shard then, and the resumed schedule starts now (engine.ts).
  const resumed = resumeGap({ shard, attempt, lastBeatAtMs: hb?.beatAtMs ?? firstScheduledAtMs, resumedAtMs: Date.now(),
    previousWorker: hb?.workers[hb.workers.length - 1], worker: workerIdentity() });
  if (resumed) { gaps.push(resumed); log.warn({ runId, shard, attempt, gap: resumed }, 'harness gap'); }
  const starvation = new StarvationWatch(shard, Date.now());

  let lastRequests = stats.counts.requests;
  let lastTick = performance.now();
  const flusher = setInterval(() => { void flush().catch(() => undefined); }, FLUSH_MS);
  const beat = setInterval(() => {
    const starved = starvation.tick(Date.now());
    if (starved) { gaps.push(starved); log.warn({ runId, shard, gap: starved }, 'harness gap'); }
    ctx?.heartbeat(checkpoint(engine));
    if (input.progress) {
      const now = performance.now();
      const payload: LoadProgress = { shard, counts: stats.counts, rate: ((stats.counts.requests - lastRequests) * 1000) / (now - lastTick),
        p99_ms: engine.stats.hist.totalCount ? engine.stats.hist.getValueAtPercentile(99) / 1000 : 0,
        // The live view draws the gaps as they close, and opens one for a shard that went quiet.
        at_ms: Date.now(), ...(gaps.length ? { gaps: [...gaps] } : {}) };
      lastRequests = stats.counts.requests;
      lastTick = now;
      const workflowId = input.progress.workflowId;
      // The worker's own connection (and namespace): a shard never dials Temporal by itself.
      const client = ctx?.client;
      if (!client) return;
      void client.workflow.getHandle(workflowId).signal(loadProgressSignalName, payload)
        .catch((err: unknown) => {
          if (err instanceof WorkflowNotFoundError) {
            if (!orphaned.signal.aborted) log.warn({ workflowId, runId, shard }, 'the experiment workflow is closed; stopping this shard');
            orphaned.abort();
          } else log.warn({ err, workflowId }, 'loadProgress signal failed');
        });
    }
  }, HEARTBEAT_MS);
  shardsActive.inc();
  let result;
  try {
    result = await engine.run();
    await flush();
    await flushing;
  } finally {
    clearInterval(flusher);
    clearInterval(beat);
    shardsActive.dec();
    metrics.release();
  }
  if (flushError) throw flushError;
  ctx?.heartbeat(checkpoint(engine));
  if (cursor < end && !result.cancelled) {
    throw new Error(`load shard ${shard} of run ${runId}: entries from seq ${cursor} have no outcome after the run (expected all of [${from}, ${end}))`);
  }
  const encoded = stats.encode();
  return {
    shard, counts: encoded.counts, histogram: encoded.histogram, histogramUncorrected: encoded.histogramUncorrected,
    timeline: encoded.timeline, startedAt: new Date(startedAtMs).toISOString(), endedAt: new Date().toISOString(),
    activeSeconds: ((hb?.activeMs ?? 0) + result.activeMs) / 1000, mismatches: encoded.mismatches,
    ...(result.stress ? { stress: result.stress } : {}),
    workers, attempt, cancelled: result.cancelled, ...(gaps.length ? { gaps } : {}),
  };
}
