// The activity surface the experiment workflow drives, as types only: each phase's
// activities come from its own folder. Declarations marked "contract" are the
// agreed signatures of phases built on other branches; they switch to `typeof` the
// real module as each lands.
import type * as scenario from '../activities/scenario/activities.ts';
import type * as ledger from '../activities/ledger/activities.ts';
import type * as probe from '../activities/probe/activities.ts';
import type * as drain from '../activities/drain/activities.ts';
import type { FaultEvidence, FaultHandle, FaultSpec, RevertResult } from '../activities/faults/types.ts';
import type { LedgerRef, LedgerSpec } from '../activities/ledger/types.ts';
import type { LoadSettings, LoadShardInput, LoadShardResult, LoadSummary } from '../activities/load/types.ts';
import type { ReconcileResult, ReconcileSourceSpec } from '../activities/reconcile/types.ts';
import type { ExperimentReport, ReportPaths } from '../activities/report/types.ts';

export type ScenarioActivities = typeof scenario;
export type LedgerActivities = typeof ledger;
export type ProbeActivities = typeof probe;
export type DrainActivities = typeof drain;

/** contract (wip/load) */
export interface LoadActivities {
  runLoadShard(input: LoadShardInput & { progress?: { workflowId: string } }): Promise<LoadShardResult>;
  summarizeLoad(input: { results: LoadShardResult[]; settings: LoadSettings }): Promise<LoadSummary>;
  redeliverUnacknowledged(input: { runId: string; settings: LoadSettings; ledger: LedgerSpec }): Promise<{ resent: number; acked: number; still_unacknowledged: number }>;
}

/** contract (wip/faults) */
export interface FaultActivities {
  injectFault(input: { runId: string; spec: FaultSpec; leaseMs: number }): Promise<FaultHandle>;
  revertFault(handle: FaultHandle): Promise<RevertResult>;
  faultEvidence(handle: FaultHandle): Promise<FaultEvidence>;
}

/** contract (wip/reconcile) */
export interface ReconcileActivities {
  reconcile(input: { runId: string; ledger: LedgerRef; sources: ReconcileSourceSpec[] }): Promise<ReconcileResult>;
  writeReports(report: ExperimentReport): Promise<ReportPaths>;
}

/** contract (wip/load): shards are contiguous ledger slices at rate/N each. */
export function planLoadShards(runId: string, settings: LoadSettings, ledger: LedgerSpec): LoadShardInput[] {
  const n = Math.max(1, Math.min(settings.shards, ledger.messages));
  const size = Math.ceil(ledger.messages / n);
  return Array.from({ length: n }, (_, shard) => ({
    runId, shard, shards: n, from: shard * size, to: Math.min(ledger.messages, (shard + 1) * size), settings, ledger,
  }));
}
