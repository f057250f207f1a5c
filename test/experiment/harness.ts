// Shared by the experiment tests: a client on the test stack's Temporal, workers
// (in-process, or as a child process that a test can SIGKILL), history inspection.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { temporal } from '@temporalio/proto';
import type { Worker } from '@temporalio/worker';
import { OrdealClient } from '../../scripts/client/index.ts';
import { loadStackConfig, repoRoot } from '../../scripts/stack/config.ts';
import { createOrchestratorWorker, installRuntime } from '../../workers/orchestrator.ts';

export const config = loadStackConfig();
export const uniqueQueue = (prefix: string) => `${prefix}-${randomBytes(3).toString('hex')}`;

export async function client(taskQueue: string): Promise<OrdealClient> {
  return OrdealClient.connect({ config, taskQueue });
}

/** An orchestrator worker in this process on its own task queue (no metrics port: the stack's worker has it). */
export async function inProcessWorker(taskQueue: string, activities: Record<string, (...a: never[]) => Promise<unknown>> = {}):
  Promise<{ worker: Worker; stop: () => Promise<void> }> {
  installRuntime(config, null);
  const { worker, connection } = await createOrchestratorWorker({ config, taskQueue, activities });
  const running = worker.run();
  return {
    worker,
    stop: async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await connection.close();
    },
  };
}

/** A worker process (scripts/cli worker) that tests may SIGKILL; ready when it polls. */
export async function workerProcess(taskQueue: string, extraArgs: string[] = []): Promise<{ child: ChildProcess; kill: (sig?: NodeJS.Signals) => Promise<void> }> {
  const child = spawn(join(config.tools, 'bin', 'node'), [join(import.meta.dirname, 'worker-process.ts'), taskQueue, ...extraArgs], {
    cwd: repoRoot, env: process.env, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (b: Buffer) => {
      out += b.toString();
      if (out.includes('worker ready')) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`worker process exited (${code}) before ready:\n${out}`)));
  });
  await ready;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    child,
    kill: async (sig: NodeJS.Signals = 'SIGKILL') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(sig);
      await exited;
    },
  };
}

export async function history(c: OrdealClient, workflowId: string): Promise<temporal.api.history.v1.IHistoryEvent[]> {
  const h = await c.client.workflow.getHandle(workflowId).fetchHistory();
  return h.events ?? [];
}

/** Activity types scheduled in a run, in order. */
export async function scheduledActivities(c: OrdealClient, workflowId: string): Promise<string[]> {
  return (await history(c, workflowId))
    .filter((e) => e.activityTaskScheduledEventAttributes)
    .map((e) => e.activityTaskScheduledEventAttributes!.activityType!.name!);
}
