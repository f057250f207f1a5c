// The `docker` backend: kill or pause containers of the user's system. Only
// containers labelled ordeal.target=true can be faulted, so an experiment can never
// touch an unrelated container on the same engine. The target is the container's
// name or its `ordeal.name` label.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Docker from 'dockerode';
/** Where this machine keeps fault state (the embedded stack: its home). */
type StateDir = { home: string };
import { FaultPreconditionError, paramProblems, type FaultBackend, type Observation } from '../backend.ts';

export const TARGET_LABEL = 'ordeal.target';
export const NAME_LABEL = 'ordeal.name';

/** ORDEAL_DOCKER_SOCKET, else the stack's own engine (<home>/run/docker.sock), else the system's. */
export function dockerSocket(config: StateDir, env: NodeJS.ProcessEnv = process.env): string {
  if (env.ORDEAL_DOCKER_SOCKET) return env.ORDEAL_DOCKER_SOCKET;
  const own = join(config.home, 'run', 'docker.sock');
  return existsSync(own) ? own : '/var/run/docker.sock';
}

async function findTarget(docker: Docker, target: string) {
  const all = await docker.listContainers({ all: true, filters: JSON.stringify({ label: [`${TARGET_LABEL}=true`] }) });
  return all.find((c) => c.Labels[NAME_LABEL] === target || c.Names.some((n) => n.replace(/^\//, '') === target));
}

async function labelledNames(docker: Docker): Promise<string> {
  const all = await docker.listContainers({ all: true, filters: JSON.stringify({ label: [`${TARGET_LABEL}=true`] }) });
  return all.map((c) => c.Labels[NAME_LABEL] ?? c.Names[0]?.replace(/^\//, '')).join(', ') || 'none';
}

const signals = ['SIGKILL', 'SIGTERM', 'SIGINT', 'SIGQUIT'] as const;

export function dockerBackend(): FaultBackend {
  return {
    name: 'docker',
    types: ['database_kill', 'service_kill', 'process_pause'],

    check(spec) {
      return paramProblems(spec, spec.type === 'process_pause' ? {} : { signal: signals });
    },

    async probe(spec, ctx) {
      const socket = dockerSocket({ home: ctx.env.stateDir });
      try {
        const docker = new Docker({ socketPath: socket });
        if (await findTarget(docker, spec.target)) return [];
        return [`no container "${spec.target}" labelled ${TARGET_LABEL}=true on the docker engine at ${socket} (labelled: ${await labelledNames(docker)})`];
      } catch (err) {
        return [`the docker engine at ${socket} is not reachable: ${(err as Error).message}`];
      }
    },

    async plan(spec, _faultId, ctx) {
      const socket = dockerSocket({ home: ctx.env.stateDir });
      const docker = new Docker({ socketPath: socket });
      const found = await findTarget(docker, spec.target);
      if (!found) {
        throw new FaultPreconditionError(`no container "${spec.target}" labelled ${TARGET_LABEL}=true on ${socket} (labelled: ${await labelledNames(docker)})`);
      }
      if (found.State !== 'running') throw new FaultPreconditionError(`container ${spec.target} (${found.Id.slice(0, 12)}) is ${found.State}, not running`);
      return { socket, container: found.Id, restart: spec.restart, signal: String(spec.params.signal ?? 'SIGKILL') };
    },

    async inject(handle) {
      const c = new Docker({ socketPath: String(handle.revert.socket) }).getContainer(String(handle.revert.container));
      if (handle.type === 'process_pause') {
        await c.pause();
        return;
      }
      await c.kill({ signal: String(handle.revert.signal) });
      for (let i = 0; i < 100; i++) {
        if (!(await c.inspect()).State.Running) return;
        await sleep(50);
      }
      throw new Error(`container ${handle.target} still running 5 s after ${String(handle.revert.signal)}`);
    },

    async revert(handle) {
      const c = new Docker({ socketPath: String(handle.revert.socket) }).getContainer(String(handle.revert.container));
      let state;
      try {
        state = (await c.inspect()).State;
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode === 404) return { alreadyReverted: true, detail: `container ${handle.target} no longer exists` };
        throw err;
      }
      if (handle.type === 'process_pause') {
        if (!state.Paused) return { alreadyReverted: true, detail: `container ${handle.target} is not paused` };
        await c.unpause();
        return { alreadyReverted: false, detail: `unpaused container ${handle.target}` };
      }
      if (state.Running) return { alreadyReverted: true, detail: `container ${handle.target} already running` };
      if (handle.revert.restart === false) return { alreadyReverted: false, detail: `container ${handle.target} left stopped (restart: false)` };
      await c.start();
      for (let i = 0; i < 600; i++) {
        const s = (await c.inspect()).State;
        if (s.Running && (!s.Health || s.Health.Status === 'healthy')) return { alreadyReverted: false, detail: `restarted container ${handle.target}` };
        await sleep(100);
      }
      throw new Error(`container ${handle.target} started but did not become running/healthy within 60 s`);
    },

    async evidence(handle): Promise<Observation[]> {
      const c = new Docker({ socketPath: String(handle.revert.socket) }).getContainer(String(handle.revert.container));
      const s = (await c.inspect()).State;
      if (handle.type === 'process_pause') {
        return [{ ok: s.Paused, description: `container ${handle.target}: Status=${s.Status} Paused=${s.Paused} (cgroup freezer)` }];
      }
      return [{ ok: !s.Running, description: `container ${handle.target}: Status=${s.Status} Running=${s.Running} ExitCode=${s.ExitCode}` }];
    },
  };
}
