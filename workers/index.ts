// Starting workers in one process: the orchestrator (workflows + orchestration
// activities, task queue `ordeal`) and a load worker (task queue `ordeal-load`).
import { createServer, type Server } from 'node:http';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { Registry } from 'prom-client';
import { experimentRegistry, observeRunningExperiments } from '../activities/experiment-metrics/index.ts';
import { closeOutcomeDbs, loadActivities, loadRegistry } from '../activities/load/index.ts';
import { closeFaults } from '../activities/faults/index.ts';
import { loadStackConfig } from '../scripts/stack/config.ts';
import { environment } from '../activities/environment/index.ts';
import { temporalConnectionOptions } from '../activities/environment/temporal.ts';
import { LOAD_TASK_QUEUE } from '../workflows/names.ts';
import { createOrchestratorWorker, installRuntime, log } from './orchestrator.ts';

/** A prom-client registry on a port: the load engine's live metrics, the experiments' metrics. */
function metricsServer(registry: Registry, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') { res.writeHead(404).end(); return; }
    registry.metrics().then((text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: unknown) => res.writeHead(500).end(String(err)));
  });
  return new Promise((resolve) => {
    server.once('error', (err) => { log.warn({ err: err.message, port }, 'metrics port busy; these metrics are not served'); resolve(server); });
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
  const servers: Server[] = [];
  let client: Promise<Client> | undefined;
  if (o.orchestrator !== false && o.metrics !== false) {
    observeRunningExperiments(() => {
      client ??= Connection.connect({ address: `127.0.0.1:${config.ports.temporal}` }).then((connection) => new Client({ connection }))
        .catch((err: unknown) => { client = undefined; throw err; });
      return client;
    });
    servers.push(await metricsServer(experimentRegistry, config.ports.experiment_metrics));
  }
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
    if (o.metrics !== false) servers.push(await metricsServer(loadRegistry, config.ports.load_worker_metrics));
  }
  if (workers.length === 0) throw new Error('no worker to run (both --no-orchestrator and --no-load)');
  log.info({ queues: workers.map((w) => w.options.taskQueue), metrics: `127.0.0.1:${config.ports.worker_metrics}` }, 'workers running');
  const done = Promise.all(workers.map((w) => w.run())).then(async () => {
    for (const s of servers) s.close();
    await client?.then((c) => c.connection.close(), () => undefined);
    await Promise.all(connections.map((c) => c.close()));
    await closeOutcomeDbs();
    await closeFaults();
    log.info('workers stopped');
  });
  return { shutdown: () => workers.forEach((w) => w.shutdown()), done };
}
