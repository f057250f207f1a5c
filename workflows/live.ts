// The experiment's live state, in one object: what the status query answers and the
// report's phase list. Signals and phase changes write it; nothing else does.
import { setCurrentDetails } from '@temporalio/workflow';
import type { LoadProgress } from '../activities/load/types.ts';
import type { ExperimentReport, Phase, Verdict } from '../activities/report/types.ts';
import type { FaultLifecycle } from './fault-lifecycle.ts';
import { stalledShards } from './load-flow.ts';
import { progressGaps, progressTotals } from './progress.ts';
import type { ExperimentStatus } from './types.ts';

export class LiveState {
  readonly runId: string;
  readonly startedAt: number;
  scenario: string | null = null;
  phase: Phase = 'validating';
  readonly phases: ExperimentReport['phases'] = [];
  /** Each shard's last progress signal. */
  readonly progress = new Map<number, LoadProgress>();
  plannedShards = 0;
  /** Shards whose activity ended (completed or failed): quiet by design, not a harness gap. */
  readonly shardsDone = new Set<number>();
  /** Workflow time of each shard's last progress signal (a fault waits for a silent shard). */
  readonly #lastSignalAt = new Map<number, number>();
  #loadStartedAt: number | null = null;
  abortReason: string | null = null;
  verdict: Verdict | null = null;
  /** Without a business probe, time to first success is the first acknowledgement after the last revert. */
  firstAckAfterRevertAt: number | null = null;
  #revertedAt: number | null = null;
  #ackedAtRevert = 0;

  constructor(runId: string, startedAt: number) {
    this.runId = runId;
    this.startedAt = startedAt;
  }

  /** Closes the open phase and opens the next; the Web UI shows it as the run's current details. */
  enter(phase: Phase, details?: string): void {
    const now = new Date(Date.now()).toISOString();
    const open = this.phases[this.phases.length - 1];
    if (open && open.ended_at === null) open.ended_at = now;
    this.phases.push({ phase, started_at: now, ended_at: null });
    this.phase = phase;
    setCurrentDetails(`**${phase}**${details ? ` — ${details}` : ''} (run ${this.runId})`);
  }

  onLoadStarted(at: number, plannedShards: number): void {
    this.#loadStartedAt = at;
    this.plannedShards = plannedShards;
  }

  /** Shards with no load worker sending right now (a harness gap under way); none outside the load phase. */
  stalledShards(now: number): number[] {
    if (this.#loadStartedAt === null) return [];
    return stalledShards({ planned: this.plannedShards, lastSignalAt: this.#lastSignalAt, finished: this.shardsDone, loadStartedAt: this.#loadStartedAt }, now);
  }

  onProgress(progress: LoadProgress): void {
    this.progress.set(progress.shard, progress);
    this.#lastSignalAt.set(progress.shard, Date.now());
    if (this.#revertedAt !== null && this.firstAckAfterRevertAt === null && progressTotals(this.progress.values()).acked > this.#ackedAtRevert) {
      this.firstAckAfterRevertAt = Date.now();
    }
  }

  onShardDone(shard: number): void {
    this.shardsDone.add(shard);
  }

  onReverted(at: number): void {
    this.#revertedAt = at;
    this.#ackedAtRevert = progressTotals(this.progress.values()).acked;
    this.firstAckAfterRevertAt = null;
  }

  status(faults: FaultLifecycle): ExperimentStatus {
    const t = progressTotals(this.progress.values());
    const now = Date.now();
    return {
      run_id: this.runId,
      scenario: this.scenario,
      phase: this.phase,
      elapsed_ms: now - this.startedAt,
      started_at: new Date(this.startedAt).toISOString(),
      sent: t.sent, acked: t.acked, failed: t.failed, unacknowledged: t.unknown, never_sent: t.dropped,
      rate: Math.round(t.rate), p99_ms: t.p99_ms,
      active_faults: faults.activeFaults(now),
      verdict: this.verdict,
      abort_reason: this.abortReason,
      shards: { reporting: this.progress.size, planned: this.plannedShards },
      harness_gaps: progressGaps(this.progress.values()),
      load_shards: [...this.progress.values()].map((p) => ({ shard: p.shard, last_progress_ms: p.at_ms ?? null, done: this.shardsDone.has(p.shard) })),
    };
  }
}
