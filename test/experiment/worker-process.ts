// A standalone worker process for crash tests: orchestrator + load worker on the
// given task queues, no metrics ports. `worker-process.ts <taskQueue> <loadTaskQueue>`
import { startWorkers } from '../../workers/index.ts';

const [taskQueue, loadTaskQueue] = process.argv.slice(2);
if (!taskQueue || !loadTaskQueue) throw new Error('usage: worker-process.ts <taskQueue> <loadTaskQueue>');
const running = await startWorkers({ taskQueue, loadTaskQueue, metrics: false });
process.once('SIGTERM', () => running.shutdown());
process.stdout.write(`worker ready on ${taskQueue} + ${loadTaskQueue} (pid ${process.pid})\n`);
await running.done;
