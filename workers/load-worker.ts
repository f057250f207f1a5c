// Load worker: serves the `ordeal-load` task queue (load shards, summaries,
// redelivery) and exposes live Prometheus metrics. Run as many as you like, on any
// hosts that reach Temporal and Ordeal's database: shards spread over all of them.
//   node workers/load-worker.ts [--metrics-port N] [--identity NAME] [--max-shards N]
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { NativeConnection, Worker } from '@temporalio/worker';
import pino from 'pino';
import '../scripts/stack/use-environment.ts';
import { loadStackConfig } from '../scripts/stack/index.ts';
import { environment } from '../activities/environment/index.ts';
import { temporalConnectionOptions } from '../activities/environment/temporal.ts';
import { closeOutcomeDbs, loadActivities, loadRegistry, loadTaskQueue, workerIdentity } from '../activities/load/index.ts';

const log = pino({ name: 'load-worker' });
const { values } = parseArgs({ options: {
  'metrics-port': { type: 'string' },
  identity: { type: 'string' },
  'max-shards': { type: 'string', default: '8' },
} });
const config = loadStackConfig();
const identity = values.identity ?? workerIdentity();
process.env.ORDEAL_WORKER_ID ??= identity;

const metricsPort = values['metrics-port'] !== undefined ? Number(values['metrics-port']) : config.ports.load_worker_metrics;
const metrics = createServer((req, res) => {
  if (req.url !== '/metrics') { res.writeHead(404).end(); return; }
  loadRegistry.metrics().then((text) => res.writeHead(200, { 'content-type': loadRegistry.contentType }).end(text),
    (err: unknown) => res.writeHead(500).end(String(err)));
});
await new Promise<void>((resolve) => {
  metrics.once('error', (err: NodeJS.ErrnoException) => {
    // A second worker on the same host: metrics on an ephemeral port rather than no worker.
    if (err.code === 'EADDRINUSE') { log.warn({ port: metricsPort }, 'metrics port busy; using an ephemeral port'); metrics.listen(0, '127.0.0.1', resolve); }
    else throw err;
  });
  metrics.listen(metricsPort, '127.0.0.1', resolve);
});
const addr = metrics.address();
log.info({ identity, metrics: typeof addr === 'object' && addr ? `http://127.0.0.1:${addr.port}/metrics` : addr }, 'load worker metrics');

const { temporal } = environment();
const connection = await NativeConnection.connect(temporalConnectionOptions(temporal));
const worker = await Worker.create({
  connection,
  namespace: temporal.namespace,
  taskQueue: loadTaskQueue,
  identity,
  activities: loadActivities,
  maxConcurrentActivityTaskExecutions: Number(values['max-shards']),
  // A cancelled shard flushes its outcome log before it returns.
  shutdownGraceTime: '10s',
  // Heartbeats carry cancellation back: throttled to 0.8 × heartbeatTimeout (16 s) by default,
  // an aborted experiment's load would go on for that long.
  maxHeartbeatThrottleInterval: '1s',
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => { log.info({ sig }, 'shutting down'); worker.shutdown(); });
log.info({ identity, taskQueue: loadTaskQueue, temporal: temporal.address, namespace: temporal.namespace }, 'load worker ready');
console.log(`READY ${identity}`);
try {
  await worker.run();
} finally {
  metrics.close();
  await connection.close();
  await closeOutcomeDbs();
}
