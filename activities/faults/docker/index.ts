// The `docker` backend: kill or pause the containers of the user's system. Only a
// service the system file declares as `kind: docker` can be faulted, and what is
// faulted is the container it names (`container:`, a name or an id), never one found
// by a guess; that container must also carry the label ordeal.target=true, a second
// guard so that a typo in a system file cannot reach an unrelated container on the
// same engine. Ordeal's own components are never targets.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Docker from 'dockerode';
import { protectedComponents, type DockerServiceDecl, type ServiceDecl, type SystemFile } from '../../system/schema.ts';
import { FaultPreconditionError, paramProblems, type FaultBackend, type FaultContext, type Observation, type ParamRule } from '../backend.ts';
import { DEFAULT_READY_TIMEOUT_MS, readyOnce } from '../process/restart.ts';
import type { FaultHandle } from '../types.ts';

/** Where this machine keeps fault state (the embedded stack: its home). */
type StateDir = { home: string };

export const TARGET_LABEL = 'ordeal.target';

/** ORDEAL_DOCKER_SOCKET, else the stack's own engine (<home>/run/docker.sock), else the system's. */
export function dockerSocket(config: StateDir, env: NodeJS.ProcessEnv = process.env): string {
  if (env.ORDEAL_DOCKER_SOCKET) return env.ORDEAL_DOCKER_SOCKET;
  const own = join(config.home, 'run', 'docker.sock');
  return existsSync(own) ? own : '/var/run/docker.sock';
}

/** Static refusals: Ordeal's own components, undeclared targets, a service of another kind. */
function targetProblems(target: string, system: SystemFile): string[] {
  if (protectedComponents[target]) return [`target ${target} is ${protectedComponents[target]}, not a system under test; it cannot be faulted`];
  const decl = system.services[target];
  if (!decl) {
    const allowed = Object.entries(system.services).filter(([n, d]) => d.kind === 'docker' && !protectedComponents[n]).map(([n]) => n);
    return [`unknown target "${target}" for the docker backend; docker services of system ${system.name} that can be faulted: ${allowed.join(', ') || 'none'} ` +
      `(declare it: services.${target}: { kind: docker, container: <name or id> })`];
  }
  if (decl.kind !== 'docker') return [`target ${target} is a ${decl.kind} service of system ${system.name}; use backend: ${decl.kind}`];
  return [];
}

type Inspected = Awaited<ReturnType<Docker.Container['inspect']>>;

/** The declared container, inspected; or why it cannot be faulted (absent, not labelled). */
async function locate(docker: Docker, socket: string, service: string, decl: DockerServiceDecl): Promise<{ info: Inspected } | { problem: string }> {
  let info: Inspected;
  try {
    info = await docker.getContainer(decl.container).inspect();
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) {
      return { problem: `no container "${decl.container}" (services.${service}.container) on the docker engine at ${socket}` };
    }
    throw err;
  }
  if (info.Config.Labels?.[TARGET_LABEL] !== 'true') {
    return { problem: `container "${decl.container}" (services.${service}) is not labelled ${TARGET_LABEL}=true; ` +
      `Ordeal faults only containers carrying that label (docker run --label ${TARGET_LABEL}=true ...)` };
  }
  return { info };
}

/** For `ordeal validate --live`: the declared container's state, read-only. */
export async function dockerServiceState(service: string, decl: DockerServiceDecl, stateDir: string): Promise<{ ok: boolean; detail: string }> {
  const socket = dockerSocket({ home: stateDir });
  try {
    const found = await locate(new Docker({ socketPath: socket }), socket, service, decl);
    if ('problem' in found) return { ok: false, detail: found.problem };
    const s = found.info.State;
    return { ok: s.Running && !s.Paused, detail: `docker container ${decl.container} (${found.info.Id.slice(0, 12)}) ${s.Paused ? 'paused' : s.Status}, labelled ${TARGET_LABEL}=true` };
  } catch (err) {
    return { ok: false, detail: `the docker engine at ${socket} is not reachable: ${(err as Error).message}` };
  }
}

/** The declaration a handle carries, so any worker or the watchdog can wait for readiness. */
function declOf(handle: FaultHandle): DockerServiceDecl | undefined {
  if (typeof handle.revert.decl !== 'string') return undefined;
  const decl = JSON.parse(handle.revert.decl) as ServiceDecl;
  return decl.kind === 'docker' ? decl : undefined;
}

const containerOf = (handle: FaultHandle) =>
  new Docker({ socketPath: String(handle.revert.socket) }).getContainer(String(handle.revert.container));

/** "web (container ordeal-web)": the service as the scenario names it and what it maps to. */
const label = (handle: FaultHandle) => `${handle.target} (container ${String(handle.revert.name ?? handle.revert.container)})`;

const signals = ['SIGKILL', 'SIGTERM', 'SIGINT', 'SIGQUIT'] as const;

export function dockerBackend(): FaultBackend {
  return {
    name: 'docker',
    types: ['database_kill', 'service_kill', 'process_pause'],

    check(spec, ctx: FaultContext) {
      const rules: Record<string, ParamRule> = spec.type === 'process_pause' ? {} : { signal: signals, ready_timeout_ms: [1000, 600_000] };
      return [...targetProblems(spec.target, ctx.system), ...paramProblems(spec, rules)];
    },

    async probe(spec, ctx) {
      const decl = ctx.system.services[spec.target];
      if (decl?.kind !== 'docker') return [];
      const socket = dockerSocket({ home: ctx.env.stateDir });
      try {
        const found = await locate(new Docker({ socketPath: socket }), socket, spec.target, decl);
        if ('problem' in found) return [found.problem];
        return found.info.State.Running ? [] : [`container "${decl.container}" is ${found.info.State.Status}, not running`];
      } catch (err) {
        return [`the docker engine at ${socket} is not reachable: ${(err as Error).message}`];
      }
    },

    async plan(spec, _faultId, ctx) {
      const decl = ctx.system.services[spec.target] as DockerServiceDecl;
      const socket = dockerSocket({ home: ctx.env.stateDir });
      const found = await locate(new Docker({ socketPath: socket }), socket, spec.target, decl);
      if ('problem' in found) throw new FaultPreconditionError(found.problem);
      const { info } = found;
      if (!info.State.Running || info.State.Paused) {
        throw new FaultPreconditionError(`container "${decl.container}" (services.${spec.target}, ${info.Id.slice(0, 12)}) is ${info.State.Paused ? 'paused' : info.State.Status}, not running`);
      }
      return {
        socket, container: info.Id, name: info.Name.replace(/^\//, ''), service: spec.target,
        // The declaration travels with the handle: whoever reverts waits for its readiness.
        decl: JSON.stringify(decl),
        restart: spec.restart, signal: String(spec.params.signal ?? 'SIGKILL'),
        ready_timeout_ms: Number(spec.params.ready_timeout_ms ?? DEFAULT_READY_TIMEOUT_MS),
      };
    },

    async inject(handle) {
      const c = containerOf(handle);
      if (handle.type === 'process_pause') {
        await c.pause();
        return;
      }
      await c.kill({ signal: String(handle.revert.signal) });
      for (let i = 0; i < 100; i++) {
        if (!(await c.inspect()).State.Running) return;
        await sleep(50);
      }
      throw new Error(`container ${label(handle)} still running 5 s after ${String(handle.revert.signal)}`);
    },

    async revert(handle) {
      const c = containerOf(handle);
      let state;
      try {
        state = (await c.inspect()).State;
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode === 404) return { alreadyReverted: true, detail: `container ${label(handle)} no longer exists` };
        throw err;
      }
      if (handle.type === 'process_pause') {
        if (!state.Paused) return { alreadyReverted: true, detail: `container ${label(handle)} is not paused` };
        await c.unpause();
        return { alreadyReverted: false, detail: `unpaused container ${label(handle)}` };
      }
      if (state.Running) return { alreadyReverted: true, detail: `container ${label(handle)} already running` };
      if (handle.revert.restart === false) return { alreadyReverted: false, detail: `container ${label(handle)} left stopped (restart: false)` };
      const t0 = Date.now();
      await c.start();
      const timeoutMs = Number(handle.revert.ready_timeout_ms ?? DEFAULT_READY_TIMEOUT_MS);
      const ready = declOf(handle)?.ready;
      let last = 'not running yet';
      while (Date.now() - t0 < timeoutMs) {
        const s = (await c.inspect()).State;
        if (s.Running && (!s.Health || s.Health.Status === 'healthy')) {
          if (!ready) return { alreadyReverted: false, detail: `restarted container ${label(handle)}` };
          const r = await readyOnce(ready);
          if (r.ok) return { alreadyReverted: false, detail: `restarted container ${label(handle)}; ${r.detail} after ${((Date.now() - t0) / 1000).toFixed(1)} s` };
          last = r.detail;
        } else {
          last = `Status=${s.Status}${s.Health ? ` Health=${s.Health.Status}` : ''}`;
        }
        await sleep(100);
      }
      throw new Error(`container ${label(handle)} started but is not ready within ${(timeoutMs / 1000).toFixed(0)} s (${last})`);
    },

    async evidence(handle): Promise<Observation[]> {
      const s = (await containerOf(handle).inspect()).State;
      if (handle.type === 'process_pause') {
        return [{ ok: s.Paused, description: `container ${label(handle)}: Status=${s.Status} Paused=${s.Paused} (cgroup freezer)` }];
      }
      return [{ ok: !s.Running, description: `container ${label(handle)}: Status=${s.Status} Running=${s.Running} ExitCode=${s.ExitCode}` }];
    },
  };
}
