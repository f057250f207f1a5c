// The orchestrator worker: experiment workflows and every orchestration-side
// activity on task queue `ordeal`. Load shards run on `ordeal-load` (workers/load).
import { join } from 'node:path';
import { DefaultLogger, NativeConnection, Runtime, Worker, bundleWorkflowCode, type LogLevel, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import pino from 'pino';
import * as drain from '../activities/drain/activities.ts';
import { experimentMetricsInterceptor } from '../activities/experiment-metrics/index.ts';
import { faultActivities } from '../activities/faults/index.ts';
import { loadActivities } from '../activities/load/index.ts';
import { reconcileActivities } from '../activities/reconcile/index.ts';
import { notifyActivities } from '../activities/notify/index.ts';
import { reportActivities } from '../activities/report/index.ts';
import * as ledger from '../activities/ledger/activities.ts';
import * as probe from '../activities/probe/activities.ts';
import * as scenario from '../activities/scenario/activities.ts';
import '../scripts/stack/use-environment.ts';
import { environment } from '../activities/environment/index.ts';
import { temporalConnectionOptions } from '../activities/environment/temporal.ts';
import type { StackConfig } from '../scripts/stack/config.ts';
import { ORCHESTRATOR_TASK_QUEUE } from '../workflows/names.ts';

export const log = pino({ name: 'ordeal-worker', level: process.env.ORDEAL_LOG_LEVEL ?? 'info' });

export const workflowsPath = join(import.meta.dirname, '..', 'workflows', 'index.ts');

/** Every activity the orchestrator runs. */
export const orchestratorActivities = {
  ...scenario,
  ...ledger,
  ...probe,
  ...drain,
  ...faultActivities,
  ...reconcileActivities,
  ...reportActivities,
  ...notifyActivities,
  // Merging shard results runs here; shards themselves run on the load task queue.
  summarizeLoad: loadActivities.summarizeLoad,
};

let runtimeInstalled = false;
/** Worker metrics on the reserved port (once per process: the core runtime is global). */
export function installRuntime(config: StackConfig, metricsPort: number | null = config.ports.worker_metrics): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({
    // The SDK's own lines (worker state changes) only at WARN and above: pino carries ours.
    logger: new DefaultLogger((process.env.ORDEAL_SDK_LOG_LEVEL ?? 'WARN') as LogLevel),
    telemetryOptions: metricsPort ? { metrics: { prometheus: { bindAddress: `127.0.0.1:${metricsPort}` } } } : {},
  });
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
/** Bundled once per process (webpack + swc, ~1 s) and shared by every worker. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath, logger: { log() {}, trace() {}, debug() {}, info() {}, warn: (m) => log.warn(m), error: (m) => log.error(m) } });
  return bundle;
}

export interface OrchestratorOptions {
  config?: StackConfig;
  address?: string;
  namespace?: string;
  taskQueue?: string;
  /** Extra activities (e.g. other phases' modules as they are wired in). */
  activities?: Record<string, (...args: never[]) => Promise<unknown>>;
}

export async function createOrchestratorWorker(o: OrchestratorOptions = {}): Promise<{ worker: Worker; connection: NativeConnection }> {
  const { temporal } = environment();
  const connection = await NativeConnection.connect({ ...temporalConnectionOptions(temporal), ...(o.address ? { address: o.address } : {}) });
  const worker = await Worker.create({
    connection,
    namespace: o.namespace ?? temporal.namespace,
    taskQueue: o.taskQueue ?? ORCHESTRATOR_TASK_QUEUE,
    workflowBundle: await workflowBundle(),
    activities: { ...orchestratorActivities, ...o.activities },
    // Finished runs become experiment metrics (runs by verdict, last run's outcomes) as their report is written.
    interceptors: { activity: [experimentMetricsInterceptor] },
    // A crashed worker's sticky tasks move to another worker after this long.
    stickyQueueScheduleToStartTimeout: '5s',
    shutdownGraceTime: '10s',
  });
  return { worker, connection };
}
