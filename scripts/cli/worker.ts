// `ordeal worker`: runs the orchestrator worker (and, with --load, a load worker)
// until SIGINT/SIGTERM. The stack supervisor runs one as the `worker` service.
import type { Command } from 'commander';
import { startWorkers } from '../../workers/index.ts';

export function registerWorker(program: Command): void {
  program.command('worker').description('run Ordeal workers: orchestration (task queue ordeal) and load (ordeal-load)')
    .option('--no-orchestrator', 'no orchestrator worker')
    .option('--no-load', 'no load worker')
    .option('--task-queue <name>', 'orchestrator task queue', 'ordeal')
    .option('--load-task-queue <name>', 'load task queue', 'ordeal-load')
    .option('--no-metrics', 'no Prometheus endpoints (a second worker on this host)')
    .action(async (o: { orchestrator: boolean; load: boolean; taskQueue: string; loadTaskQueue: string; metrics: boolean }) => {
      const running = await startWorkers({ orchestrator: o.orchestrator, load: o.load, taskQueue: o.taskQueue, loadTaskQueue: o.loadTaskQueue, metrics: o.metrics });
      process.stdout.write(`worker ready (pid ${process.pid})\n`);
      const stop = () => { running.shutdown(); };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      await running.done;
    });
}
