import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { request } from 'undici';
import type { ServiceSpec } from '../service.ts';

/**
 * Ordeal's own workers: the orchestrator (experiment workflows, task queue `ordeal`)
 * and a load worker (`ordeal-load`) in one process. Ready once the orchestrator
 * polls its task queue, so `stack up` followed by `ordeal run` just works.
 */
export const worker: ServiceSpec = {
  name: 'worker',
  description: 'Ordeal workers: orchestrator (task queue ordeal) + load (ordeal-load)',
  ports: ['worker_metrics'],
  url: (c) => `http://127.0.0.1:${c.ports.worker_metrics}/metrics`,
  metrics: (c) => `127.0.0.1:${c.ports.worker_metrics}`,
  after: ['temporal', 'ordeal-db'],
  launch: (ctx) => ({
    file: ctx.tool('node'),
    args: ['--disable-warning=TimeoutNegativeWarning', join(ctx.config.root, 'scripts', 'cli', 'main.ts'), 'worker'],
    env: {
      ORDEAL_HOME: ctx.config.home,
      ORDEAL_TOOLS: ctx.config.tools,
      ...Object.fromEntries(Object.entries(ctx.config.ports).map(([k, v]) => [`ORDEAL_PORT_${k.toUpperCase()}`, String(v)])),
    },
    cwd: ctx.config.root,
  }),
  async ready(ctx) {
    const res = await request(this.url(ctx.config), { headersTimeout: 2000, bodyTimeout: 2000 });
    await res.body.dump();
    if (res.statusCode !== 200) throw new Error(`worker metrics answered ${res.statusCode}`);
    const connection = await Connection.connect({ address: `127.0.0.1:${ctx.config.ports.temporal}`, connectTimeout: 2000 });
    try {
      const q = await connection.workflowService.describeTaskQueue({
        namespace: 'default', taskQueue: { name: 'ordeal' }, taskQueueType: 1, // workflow tasks
      });
      if ((q.pollers ?? []).length === 0) throw new Error('no worker polls task queue ordeal yet');
      return `${q.pollers!.length} poller(s) on ordeal`;
    } finally {
      await connection.close();
    }
  },
  stopSignal: 'SIGTERM',
  stopGraceMs: 15000,
  readyTimeoutMs: 60000,
};
