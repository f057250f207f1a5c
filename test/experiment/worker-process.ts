// A standalone orchestrator worker for crash tests: `worker-process.ts <taskQueue>`.
import { installRuntime, createOrchestratorWorker } from '../../workers/orchestrator.ts';
import { loadStackConfig } from '../../scripts/stack/config.ts';

const taskQueue = process.argv[2];
if (!taskQueue) throw new Error('usage: worker-process.ts <taskQueue>');
const config = loadStackConfig();
installRuntime(config, null);
const { worker, connection } = await createOrchestratorWorker({ config, taskQueue });
process.once('SIGTERM', () => worker.shutdown());
const running = worker.run();
process.stdout.write(`worker ready on ${taskQueue} (pid ${process.pid})\n`);
await running;
await connection.close();
