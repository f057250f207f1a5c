// Starting workers in one process: the orchestrator (workflows + orchestration
// activities, task queue `ordeal`) and a load worker (task queue `ordeal-load`).
import { createServer, type Server } from 'node:http';
import { NativeConnection, Worker } from '@temporalio/worker';
import { closeOutcomeDbs, loadActivities, loadRegistry } from '../activities/load/index.ts';
import { closeFaults } from '../activities/faults/index.ts';
import { loadStackConfig } from '../scripts/stack/config.ts';
import { environment } from '../activities/environment/index.ts';
import { temporalConnectionOptions } from '../activities/environment/temporal.ts';
import { LOAD_TASK_QUEUE } from '../workflows/names.ts';
import { createOrchestratorWorker, installRuntime, log } from './orchestrator.ts';

/** The load engine's live metrics (rate, latency, outcomes) on the load worker's port. */
function loadMetricsServer(port: number): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') { res.writeHead(404).end(); return; }
    loadRegistry.metrics().then((text) => res.writeHead(200, { 'content-type': loadRegistry.contentType }).end(text),
      (err: unknown) => res.writeHead(500).end(String(err)));
  });
  return new Promise((resolve) => {
    server.once('error', (err) => { log.warn({ err: err.message, port }, 'load metrics port busy; no load metrics'); resolve(server); });
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

export interface RunningWorkers {
  shutdown(): void;
  done: Promise<void>;
}

export async function startWorkers(o: { orchestrator?: boolean; load?: boolean; taskQueue?: string; loadTaskQueue?: string; metrics?: boolean } = {}): Promise<RunningWorkers> {
  const config = loadStackConfig();
  installRuntime(config, o.metrics === false ? null : config.ports.worker_metrics);
  const workers: Worker[] = [];
  const connections: NativeConnection[] = [];
  if (o.orchestrator !== false) {
    const { worker, connection } = await createOrchestratorWorker({ config, ...(o.taskQueue ? { taskQueue: o.taskQueue } : {}) });
    workers.push(worker);
    connections.push(connection);
  }
  let metrics: Server | null = null;
  if (o.load !== false) {
    const connection = await NativeConnection.connect(temporalConnectionOptions(environment().temporal));
    connections.push(connection);
    workers.push(await Worker.create({
      connection, namespace: environment().temporal.namespace, taskQueue: o.loadTaskQueue ?? LOAD_TASK_QUEUE, activities: loadActivities, shutdownGraceTime: '10s',
      maxConcurrentActivityTaskExecutions: 8,
      // Heartbeats carry cancellation back: throttled to 0.8 × heartbeatTimeout (16 s) by default,
      // an aborted experiment's load would go on for that long.
      maxHeartbeatThrottleInterval: '1s',
    }));
    if (o.metrics !== false) metrics = await loadMetricsServer(config.ports.load_worker_metrics);
  }
  if (workers.length === 0) throw new Error('no worker to run (both --no-orchestrator and --no-load)');
  log.info({ queues: workers.map((w) => w.options.taskQueue), metrics: `127.0.0.1:${config.ports.worker_metrics}` }, 'workers running');
  const done = Promise.all(workers.map((w) => w.run())).then(async () => {
    metrics?.close();
    await Promise.all(connections.map((c) => c.close()));
    await closeOutcomeDbs();
    await closeFaults();
    log.info('workers stopped');
  });
  return { shutdown: () => workers.forEach((w) => w.shutdown()), done };
}
