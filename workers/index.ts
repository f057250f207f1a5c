// Starting workers in one process: the orchestrator (workflows + orchestration
// activities, task queue `ordeal`) and a load worker (task queue `ordeal-load`).
import { NativeConnection, Worker } from '@temporalio/worker';
import { loadStackConfig } from '../scripts/stack/config.ts';
import { LOAD_TASK_QUEUE } from '../workflows/types.ts';
import { createOrchestratorWorker, installRuntime, log } from './orchestrator.ts';

/** The load engine's activities (runLoadShard, redeliverUnacknowledged, ...), wired in when it lands. */
export const loadWorkerActivities: Record<string, (...args: never[]) => Promise<unknown>> = {};

export interface RunningWorkers {
  shutdown(): void;
  done: Promise<void>;
}

export async function startWorkers(o: { orchestrator?: boolean; load?: boolean } = {}): Promise<RunningWorkers> {
  const config = loadStackConfig();
  installRuntime(config);
  const workers: Worker[] = [];
  const connections: NativeConnection[] = [];
  if (o.orchestrator !== false) {
    const { worker, connection } = await createOrchestratorWorker({ config });
    workers.push(worker);
    connections.push(connection);
  }
  if (o.load !== false && Object.keys(loadWorkerActivities).length > 0) {
    const connection = await NativeConnection.connect({ address: `127.0.0.1:${config.ports.temporal}` });
    connections.push(connection);
    workers.push(await Worker.create({ connection, taskQueue: LOAD_TASK_QUEUE, activities: loadWorkerActivities, shutdownGraceTime: '10s' }));
  }
  if (workers.length === 0) throw new Error('no worker to run (both --no-orchestrator and --no-load, or no load engine yet)');
  log.info({ queues: workers.map((w) => w.options.taskQueue), metrics: `127.0.0.1:${config.ports.worker_metrics}` }, 'workers running');
  const done = Promise.all(workers.map((w) => w.run())).then(async () => {
    await Promise.all(connections.map((c) => c.close()));
    log.info('workers stopped');
  });
  return { shutdown: () => workers.forEach((w) => w.shutdown()), done };
}
