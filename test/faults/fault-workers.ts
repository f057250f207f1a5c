// Faults on other machines, rehearsed on this one: `ordeal worker --faults --host <name>`
// processes (each a host's fault worker and watchdog), and an in-process workflow
// worker that routes fault activities the way the experiment does
// (workflows/host-faults.ts). Shared by hosts.test.ts (process services) and
// docker.test.ts (docker services).
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { FaultHandle, FaultSpecInput } from '../../activities/faults/index.ts';
import type { SystemFile } from '../../activities/system/index.ts';
import { loadStackConfig, repoRoot } from '../../scripts/stack/config.ts';
import type { hostInjectWorkflow, hostRevertWorkflow } from './workflows/host-faults.ts';

export interface FaultWorker { child: ChildProcess; out: () => string; kill: () => Promise<void> }

/** A host's fault worker in a process of its own; resolves once it serves its queue. */
export async function faultWorker(host: string, env: NodeJS.ProcessEnv = {}): Promise<FaultWorker> {
  const child = spawn('bash', [join(repoRoot, 'scripts', 'ordeal'), 'worker', '--faults', '--host', host], {
    cwd: repoRoot, env: { ...process.env, ORDEAL_WATCHDOG_INTERVAL_MS: '300', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (b: Buffer) => { out += b.toString(); if (out.includes(`fault worker ready for host ${host}`)) resolve(); };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`fault worker ${host} exited (${code}) before ready:\n${out}`)));
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    child, out: () => out,
    kill: async () => {
      // The bash wrapper execs node, so this pid is the worker itself.
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

export interface RoutedFaults {
  inject(runId: string, spec: FaultSpecInput, system: SystemFile, o?: { leaseMs?: number; queue?: string }): ReturnType<typeof hostInjectWorkflow>;
  revert(handle: FaultHandle): ReturnType<typeof hostRevertWorkflow>;
  close(): Promise<void>;
}

/** The routing workflows on an in-process worker of task queue `taskQueue`, and a client to run them. */
export async function routedFaults(taskQueue: string): Promise<RoutedFaults> {
  const address = `127.0.0.1:${loadStackConfig().ports.temporal}`;
  const nativeConnection = await NativeConnection.connect({ address });
  const worker = await Worker.create({ connection: nativeConnection, taskQueue, workflowsPath: fileURLToPath(new URL('./workflows/host-faults.ts', import.meta.url)) });
  const running = worker.run();
  const client = new Client({ connection: await Connection.connect({ address }) });
  return {
    inject: (runId, spec, system, o = {}) => client.workflow.execute<typeof hostInjectWorkflow>('hostInjectWorkflow', {
      taskQueue, workflowId: `${runId}-${spec.target}-${Date.now()}`,
      args: [{ runId, spec, system, leaseMs: o.leaseMs ?? 60_000, ...(o.queue ? { queue: o.queue } : {}) }],
    }),
    revert: (handle) => client.workflow.execute<typeof hostRevertWorkflow>('hostRevertWorkflow', { taskQueue, workflowId: `revert-${handle.faultId}-${Date.now()}`, args: [handle] }),
    close: async () => {
      worker.shutdown();
      await running;
      await nativeConnection.close();
      await client.connection.close();
    },
  };
}

/** The messages of an error and its causes, outermost first (a workflow failure wraps the activity's). */
export function causeChain(err: unknown): string {
  const chain: string[] = [];
  for (let e: unknown = err; e instanceof Error; e = e.cause) chain.push(e.message);
  return chain.join(' <- ');
}
