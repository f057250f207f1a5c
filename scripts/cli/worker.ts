// `ordeal worker`: runs the orchestrator worker (and, with --load, a load worker)
// until SIGINT/SIGTERM. The stack supervisor runs one as the `worker` service.
import type { Command } from 'commander';
import { startFaultWorker } from '../../workers/fault-worker.ts';
import { startWorkers, type RunningWorkers } from '../../workers/index.ts';
import { LOAD_TASK_QUEUE, ORCHESTRATOR_TASK_QUEUE } from '../../workflows/names.ts';

export function registerWorker(program: Command): void {
  program.command('worker').description(`run Ordeal workers: orchestration (task queue ${ORCHESTRATOR_TASK_QUEUE}) and load (${LOAD_TASK_QUEUE})`)
    .option('--no-orchestrator', 'no orchestrator worker')
    .option('--no-load', 'no load worker')
    .option('--task-queue <name>', 'orchestrator task queue', ORCHESTRATOR_TASK_QUEUE)
    .option('--load-task-queue <name>', 'load task queue', LOAD_TASK_QUEUE)
    .option('--no-metrics', 'no Prometheus endpoints (a second worker on this host)')
    .option('--faults', "only a host's fault worker: its services' faults (task queue ordeal-faults-<host>) and its lease watchdog")
    .option('--host <name>', 'with --faults: the fault host this machine is (the `host:` of its services in the system file)')
    .action(async (o: { orchestrator: boolean; load: boolean; taskQueue: string; loadTaskQueue: string; metrics: boolean; faults?: boolean; host?: string }) => {
      if (o.host !== undefined && !o.faults) throw new Error('--host goes with --faults (ordeal worker --faults --host <name>)');
      if (o.faults && o.host === undefined) throw new Error('--faults needs --host <name>: the fault host whose services this worker faults');
      let running: RunningWorkers;
      if (o.faults) {
        const w = await startFaultWorker({ host: o.host! });
        running = w;
        process.stdout.write(`fault worker ready for host ${o.host!} on ${w.taskQueue} (pid ${process.pid})\n`);
      } else {
        running = await startWorkers({ orchestrator: o.orchestrator, load: o.load, taskQueue: o.taskQueue, loadTaskQueue: o.loadTaskQueue, metrics: o.metrics });
        process.stdout.write(`worker ready (pid ${process.pid})\n`);
      }
      const stop = () => { running.shutdown(); };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      await running.done;
    });
}
