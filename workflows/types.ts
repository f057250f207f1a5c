// What an experiment takes and gives, its live status, and the search attributes it
// sets: plain data shared by the workflow, the CLI and the client API.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { FaultType } from '../activities/faults/types.ts';
import type { HarnessGap } from '../activities/load/types.ts';
import type { ExperimentReport, Phase, ReportPaths, Verdict } from '../activities/report/types.ts';

export const OrdealScenario = defineSearchAttributeKey('OrdealScenario', SearchAttributeType.KEYWORD);
export const OrdealVerdict = defineSearchAttributeKey('OrdealVerdict', SearchAttributeType.KEYWORD);
export const OrdealRunId = defineSearchAttributeKey('OrdealRunId', SearchAttributeType.KEYWORD);

export interface ExperimentInput {
  /** A shipped scenario's name (a file under scenarios/), a YAML path, or the scenario document itself. */
  scenario: string | Record<string, unknown>;
  /** `path=value` overrides applied before validation, e.g. `load.rate=200`. */
  overrides?: string[];
  /** Defaults to a fresh id derived from the workflow (deterministic on replay). */
  runId?: string;
  /** Task queue of the load workers (default ordeal-load). */
  loadTaskQueue?: string;
}

export interface ExperimentResult {
  run_id: string;
  workflow_id: string;
  scenario: string;
  verdict: Verdict;
  reasons: string[];
  report: ExperimentReport;
  /** null when writing the reports failed (the reasons say why). */
  paths: ReportPaths | null;
}

/** What each load shard signals about once a second (the load engine's type). */
export type { LoadProgress } from '../activities/load/types.ts';

export interface ActiveFault {
  faultId: string;
  type: FaultType;
  target: string;
  injected_at: string;
  revert_due_at: string;
}

export interface ExperimentStatus {
  run_id: string;
  scenario: string | null;
  phase: Phase;
  /** As of the workflow's last task (a query cannot read the clock): compute from started_at for a live figure. */
  elapsed_ms: number;
  started_at: string;
  sent: number;
  acked: number;
  failed: number;
  unacknowledged: number;
  /** Of the unacknowledged: arrivals never sent (queued past drop_after or cut); redelivery sends them. */
  never_sent: number;
  rate: number;
  p99_ms: number;
  active_faults: ActiveFault[];
  verdict: Verdict | null;
  abort_reason: string | null;
  /** Shards that reported progress / shards planned. */
  shards: { reporting: number; planned: number };
  /** Harness gaps the load shards reported so far (closed ones; wall-clock ms). Absent from runs of an older worker. */
  harness_gaps?: HarnessGap[];
  /**
   * Per shard that reported: when it last sent progress (its worker's clock) and whether
   * its activity ended. A shard still running that stopped reporting is a harness gap
   * opening: the live view shows it until the shard's own gap replaces it.
   */
  load_shards?: { shard: number; last_progress_ms: number | null; done: boolean }[];
}

export interface AbortRequest {
  reason: string;
}

export interface SoakInput {
  /** The scenario one soak cycle runs (default: soak). */
  scenario: string | Record<string, unknown>;
  overrides?: string[];
  /** Total cycles; 0 = until aborted. */
  cycles: number;
  /** Services whose RSS is sampled between cycles (default: the system file's defaults.soak.services, else its process services). */
  services?: string[];
  /** Cycles per workflow run before continue-as-new, keeping history well under 10k events. */
  cyclesPerRun?: number;
  /** Task queue of the load workers for every cycle (default ordeal-load). */
  loadTaskQueue?: string;
  /** Carried across continue-as-new. */
  state?: SoakState;
}

export interface RssSample {
  at: string;
  cycle: number;
  rss_bytes: Record<string, number>;
}

export interface SoakState {
  cycle: number;
  samples: RssSample[];
  verdicts: { cycle: number; run_id: string; verdict: Verdict }[];
}

export interface SoakResult {
  cycles: number;
  verdict: Verdict;
  leaks: { service: string; slope_bytes_per_cycle: number; growth_bytes: number }[];
  verdicts: SoakState['verdicts'];
}
