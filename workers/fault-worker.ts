// A host's fault worker: `ordeal worker --faults --host <name>` on the machine that
// runs the services declared with `host: <name>`. It serves their fault activities
// on task queue ordeal-faults-<name> and runs the lease watchdog for that host's
// faults, so a fault injected there is reverted there even if the experiment's
// worker never comes back. Temporal carries the work; no agent of our own.
import { NativeConnection, Worker } from '@temporalio/worker';
import '../scripts/stack/use-environment.ts';
import { environment, setEnvironment } from '../activities/environment/index.ts';
import { temporalConnectionOptions } from '../activities/environment/temporal.ts';
import { closeFaults, faultActivities, faultTaskQueue, HOST_NAME, startWatchdog } from '../activities/faults/index.ts';
import { LOCAL_HOST } from '../activities/system/index.ts';
import { installRuntime, log } from './orchestrator.ts';
import type { RunningWorkers } from './index.ts';
import { loadStackConfig } from '../scripts/stack/config.ts';

export interface FaultWorkerOptions {
  host: string;
  /** How often the host's watchdog sweeps its leases. */
  watchdogIntervalMs?: number;
}

export async function startFaultWorker(o: FaultWorkerOptions): Promise<RunningWorkers & { taskQueue: string }> {
  if (!HOST_NAME.test(o.host) || o.host === LOCAL_HOST) {
    throw new Error(`--host must name a fault host (lowercase letters, digits, _ . -; not "${LOCAL_HOST}", whose faults the orchestrator's worker runs), got "${o.host}"`);
  }
  const taskQueue = faultTaskQueue(o.host)!;
  installRuntime(loadStackConfig(), null);
  // This process serves that host: its faults, its leases.
  await closeFaults();
  setEnvironment({ ...environment(), host: o.host });
  const { temporal } = environment();
  const connection = await NativeConnection.connect(temporalConnectionOptions(temporal));
  const worker = await Worker.create({
    connection, namespace: temporal.namespace, taskQueue, activities: faultActivities, shutdownGraceTime: '10s',
    identity: `ordeal-faults@${o.host}/${process.pid}`,
  });
  const watchdog = await startWatchdog({ port: null, intervalMs: o.watchdogIntervalMs ?? Number(process.env.ORDEAL_WATCHDOG_INTERVAL_MS ?? 1000) });
  log.info({ host: o.host, taskQueue }, 'fault worker running');
  const done = worker.run().then(async () => {
    await watchdog.close();
    await connection.close();
    await closeFaults();
    log.info({ host: o.host }, 'fault worker stopped');
  });
  return { taskQueue, shutdown: () => worker.shutdown(), done };
}
