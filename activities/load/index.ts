// The load engine's interface: activities the experiment workflow runs on the
// `ordeal-load` task queue, the outcome log reader reconciliation uses, and the pure
// planning/validation helpers (re-exported from plan.ts, which workflows import directly).
import { redeliverUnacknowledged } from './redeliver.ts';
import { runLoadShard } from './shard.ts';
import { summarize } from './summarize.ts';
import type { ExcludedWindow, LoadSettings, LoadShardResult, LoadSummary } from './types.ts';

export const loadActivities = {
  runLoadShard,
  async summarizeLoad(results: LoadShardResult[], settings: LoadSettings, excluded: ExcludedWindow[] = []): Promise<LoadSummary> {
    return summarize(results, settings, excluded);
  },
  redeliverUnacknowledged,
};
export type LoadActivities = typeof loadActivities;

export { readOutcomes, outcomeDb, closeOutcomeDbs } from './outcomes.ts';
export { planLoadShards, parseLoadSettings, LoadSettingsError } from './plan.ts';
export { summarize } from './summarize.ts';
export { runLoad, LoadEngine, type EngineInput, type EngineResult } from './engine.ts';
export { loadRegistry } from './metrics.ts';
export { workerIdentity } from './shard.ts';
export * from './types.ts';
