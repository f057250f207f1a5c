import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { request } from 'undici';
import { LOAD_TASK_QUEUE, ORCHESTRATOR_TASK_QUEUE } from '../../../workflows/names.ts';
import type { ServiceContext, ServiceSpec } from '../service.ts';

const workerEnv = (ctx: Parameters<ServiceSpec['launch']>[0]) => ({
  ORDEAL_HOME: ctx.config.home,
  ORDEAL_TOOLS: ctx.config.tools,
  ...Object.fromEntries(Object.entries(ctx.config.ports).map(([k, v]) => [`ORDEAL_PORT_${k.toUpperCase()}`, String(v)])),
});

/** Temporal's TaskQueueType: the queue's workflow tasks, or its activity tasks. */
const WORKFLOW_TASKS = 1;
const ACTIVITY_TASKS = 2;

/** A worker is ready when its metrics answer and it polls its task queue (for the tasks it serves). */
async function pollsQueue(ctx: ServiceContext, label: string, metricsUrl: string, queue: string, taskQueueType: number): Promise<string> {
  const res = await request(metricsUrl, { headersTimeout: 2000, bodyTimeout: 2000 });
  await res.body.dump();
  if (res.statusCode !== 200) throw new Error(`${label} metrics answered ${res.statusCode}`);
  const connection = await Connection.connect({ address: `127.0.0.1:${ctx.config.ports.temporal}`, connectTimeout: 2000 });
  try {
    const q = await connection.workflowService.describeTaskQueue({ namespace: 'default', taskQueue: { name: queue }, taskQueueType });
    if ((q.pollers ?? []).length === 0) throw new Error(`no worker polls task queue ${queue} yet`);
    return `${q.pollers!.length} poller(s) on ${queue}`;
  } finally {
    await connection.close();
  }
}

/**
 * Ordeal's orchestrator worker (experiment workflows and orchestration activities,
 * task queue `ordeal`). Ready once it polls its task queue, so `stack up` followed
 * by `ordeal run` just works. The load worker is a separate process (below): a busy
 * load generator must not starve workflow tasks, queries and heartbeats.
 */
export const worker: ServiceSpec = {
  name: 'worker',
  description: `Ordeal orchestrator worker (task queue ${ORCHESTRATOR_TASK_QUEUE})`,
  ports: ['worker_metrics', 'experiment_metrics'],
  url: (c) => `http://127.0.0.1:${c.ports.worker_metrics}/metrics`,
  // The SDK core's worker metrics, and the experiments' own (activities/experiment-metrics).
  metrics: (c) => [`127.0.0.1:${c.ports.worker_metrics}`, `127.0.0.1:${c.ports.experiment_metrics}`],
  after: ['temporal', 'ordeal-db'],
  launch: (ctx) => ({
    file: ctx.tool('node'),
    args: ['--disable-warning=TimeoutNegativeWarning', join(ctx.config.root, 'scripts', 'cli', 'main.ts'), 'worker', '--no-load'],
    env: workerEnv(ctx),
    cwd: ctx.config.root,
  }),
  ready: (ctx) => pollsQueue(ctx, 'worker', worker.url(ctx.config), ORCHESTRATOR_TASK_QUEUE, WORKFLOW_TASKS),
  stopSignal: 'SIGTERM',
  stopGraceMs: 15000,
  readyTimeoutMs: 60000,
};

/** The load engine's worker (task queue `ordeal-load`): load shards and redelivery. */
export const loadWorker: ServiceSpec = {
  name: 'load-worker',
  description: `Ordeal load worker (task queue ${LOAD_TASK_QUEUE})`,
  ports: ['load_worker_metrics'],
  url: (c) => `http://127.0.0.1:${c.ports.load_worker_metrics}/metrics`,
  metrics: (c) => `127.0.0.1:${c.ports.load_worker_metrics}`,
  after: ['temporal', 'ordeal-db'],
  launch: (ctx) => ({
    file: ctx.tool('node'),
    args: ['--disable-warning=TimeoutNegativeWarning', join(ctx.config.root, 'workers', 'load-worker.ts')],
    env: workerEnv(ctx),
    cwd: ctx.config.root,
  }),
  ready: (ctx) => pollsQueue(ctx, 'load worker', loadWorker.url(ctx.config), LOAD_TASK_QUEUE, ACTIVITY_TASKS),
  stopSignal: 'SIGTERM',
  stopGraceMs: 15000,
  readyTimeoutMs: 60000,
};
