// A standalone worker process for crash tests: orchestrator + load worker on the
// given task queues, no metrics ports. `worker-process.ts <taskQueue> <loadTaskQueue> [both|orchestrator|load]`
import { startWorkers } from '../../workers/index.ts';

const [taskQueue, loadTaskQueue, role = 'both'] = process.argv.slice(2);
if (!taskQueue || !loadTaskQueue || !['both', 'orchestrator', 'load'].includes(role)) {
  throw new Error('usage: worker-process.ts <taskQueue> <loadTaskQueue> [both|orchestrator|load]');
}
const running = await startWorkers({ taskQueue, loadTaskQueue, metrics: false, orchestrator: role !== 'load', load: role !== 'orchestrator' });
process.once('SIGTERM', () => running.shutdown());
process.stdout.write(`worker ready on ${taskQueue} + ${loadTaskQueue} (${role}, pid ${process.pid})\n`);
await running.done;
