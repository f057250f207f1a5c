// `ordeal worker`: runs the orchestrator worker (and, with --load, a load worker)
// until SIGINT/SIGTERM. The stack supervisor runs one as the `worker` service.
import type { Command } from 'commander';
import { startWorkers } from '../../workers/index.ts';

export function registerWorker(program: Command): void {
  program.command('worker').description('run Ordeal workers: orchestration (task queue ordeal) and load (ordeal-load)')
    .option('--no-orchestrator', 'no orchestrator worker')
    .option('--no-load', 'no load worker')
    .action(async (o: { orchestrator: boolean; load: boolean }) => {
      const running = await startWorkers({ orchestrator: o.orchestrator, load: o.load });
      const stop = () => { running.shutdown(); };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      await running.done;
    });
}
