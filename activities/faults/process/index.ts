// The `process` backend: faults on the processes a system file declares (the
// embedded stack's own system file declares its services by their pid files). A
// kill is a SIGKILL of the service's whole process tree (a crash, no shutdown
// path), healed by restarting it (the host's supervisor when it owns the service,
// else the declaration's `start`) and waiting until it is ready; a pause is SIGSTOP
// of the tree (a gray failure: sockets stay open, nothing answers), healed by SIGCONT.
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { processTree, procStartTime, readStat } from '../../../process-table/index.ts';
import { protectedComponents, type ProcessServiceDecl, type ServiceDecl, type SystemFile } from '../../system/schema.ts';
import { FaultPreconditionError, paramProblems, type BackendRevert, type FaultBackend, type FaultContext, type Observation } from '../backend.ts';
import type { FaultHandle, FaultSpec } from '../types.ts';
import { DEFAULT_READY_TIMEOUT_MS, endpointOf, serviceLogOf, startDeclared } from './restart.ts';
import { findService } from './target.ts';

export { findService, matchingRoots, readServicePid, type ServiceProcess } from './target.ts';
export { readyOnce } from './restart.ts';

function targetProblems(target: string, system: SystemFile): string[] {
  if (protectedComponents[target]) return [`target ${target} is ${protectedComponents[target]}, not a system under test; it cannot be faulted`];
  const decl = system.services[target];
  const allowed = Object.entries(system.services).filter(([n, d]) => d.kind === 'process' && !protectedComponents[n]).map(([n]) => n);
  if (!decl) return [`unknown target "${target}" for the process backend; services of system ${system.name} that can be faulted: ${allowed.join(', ') || 'none'}`];
  if (decl.kind !== 'process') return [`target ${target} is a ${decl.kind} service of system ${system.name}; use backend: ${decl.kind}`];
  return [];
}

/**
 * The live root process of a declared service (by pid file, command-line match or
 * systemd unit, see target.ts), or why there is none.
 */
export function locateService(service: string, decl: ProcessServiceDecl): { pid: number; starttime: string; how: string } | { problem: string } {
  try {
    const found = findService(service, decl);
    if (found) return found;
    const how = decl.pid_file !== undefined ? `pid file ${decl.pid_file}` : decl.match !== undefined ? `match /${decl.match}/` : `systemd unit ${decl.systemd_unit}`;
    return { problem: `no live process by its ${how}` };
  } catch (err) {
    return { problem: (err as Error).message };
  }
}

function runningRoot(service: string, decl: ProcessServiceDecl): { pid: number; starttime: string; how: string } {
  // An ambiguous pattern or an unreachable systemd is refused with its own message.
  const found = findService(service, decl);
  if (!found) throw new FaultPreconditionError(`target ${service} is not running (${(locateService(service, decl) as { problem: string }).problem}); start it first`);
  return found;
}

/** A kill must be revertible: the host restarts it, or its declaration says how. */
function restartProblems(spec: FaultSpec, decl: ProcessServiceDecl, ctx: FaultContext): string[] {
  if (spec.type === 'process_pause' || !spec.restart || decl.systemd_unit !== undefined || decl.start) return [];
  if (ctx.env.ownsService?.(spec.target, decl)) return [];
  return [`service ${spec.target} has no start command, so a kill could not be reverted; declare services.${spec.target}.start, or set restart: false on the fault`];
}

/** The declaration a handle carries (older handles: the stack's, looked up in this environment). */
function declOf(handle: FaultHandle, ctx: FaultContext): ProcessServiceDecl {
  const service = String(handle.revert.service);
  const raw = typeof handle.revert.decl === 'string' ? JSON.parse(handle.revert.decl) as ServiceDecl : ctx.system.services[service];
  if (!raw || raw.kind !== 'process') {
    throw new FaultPreconditionError(`fault ${handle.faultId} names service ${service}, whose process declaration is neither in the handle nor in ${ctx.env.description}`);
  }
  return raw;
}

/** The host's own restart (the stack's supervisor), else the declaration's `start` or unit. */
async function restartService(service: string, decl: ProcessServiceDecl, handle: FaultHandle, ctx: FaultContext): Promise<string> {
  const hosted = await ctx.env.restart?.(service, decl);
  if (hosted) return hosted.detail;
  if (!decl.start && decl.systemd_unit === undefined) {
    throw new FaultPreconditionError(`${service} was killed and its declaration has no start command; restart it by hand (or declare start:)`);
  }
  const timeoutMs = Number(handle.revert.ready_timeout_ms ?? DEFAULT_READY_TIMEOUT_MS);
  const { proc, detail } = await startDeclared(service, decl, serviceLogOf(ctx.env.stateDir, service), timeoutMs);
  const how = decl.systemd_unit !== undefined ? `systemctl start ${decl.systemd_unit}` : 'its start command';
  return `restarted ${service} by ${how} (pid ${proc.pid}; ${detail})`;
}

function procState(pid: number): string | undefined {
  return readStat(pid)?.state;
}

export function refusesConnections(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host, port, timeout: 1000 });
    sock.once('connect', () => { sock.destroy(); resolve(false); });
    sock.once('timeout', () => { sock.destroy(); resolve(false); });
    sock.once('error', () => resolve(true));
  });
}

/** True once the pid has left /proc entirely: a zombie still holds it (and e.g. PostgreSQL's lock file). */
function reaped(pid: number, starttime: string): boolean {
  return readStat(pid)?.starttime !== starttime;
}

async function awaitReaped(pids: { pid: number; starttime: string }[], ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (pids.every((p) => reaped(p.pid, p.starttime))) return true;
    await sleep(50);
  }
  return false;
}

function parsePids(text: unknown): { pid: number; starttime: string }[] {
  if (typeof text !== 'string' || text === '') return [];
  return text.split(',').map((p) => {
    const [pid, starttime] = p.split(':');
    return { pid: Number(pid), starttime: starttime ?? '' };
  });
}

export function processBackend(): FaultBackend {
  return {
    name: 'process',
    types: ['database_kill', 'service_kill', 'process_pause'],

    check(spec, ctx) {
      const problems = [...targetProblems(spec.target, ctx.system), ...paramProblems(spec, { ready_timeout_ms: [1000, 600_000] })];
      const decl = ctx.system.services[spec.target];
      if (!problems.length && decl?.kind === 'process') problems.push(...restartProblems(spec, decl, ctx));
      return problems;
    },

    async probe(spec, ctx) {
      const decl = ctx.system.services[spec.target];
      if (decl?.kind !== 'process') return [];
      const found = locateService(spec.target, decl);
      return 'problem' in found ? [`not running: ${found.problem}`] : [];
    },

    async plan(spec, _faultId, ctx) {
      const decl = ctx.system.services[spec.target] as ProcessServiceDecl;
      const rec = runningRoot(spec.target, decl);
      const tree = processTree(rec.pid);
      return {
        service: spec.target,
        // The declaration travels with the handle: any worker (or the watchdog) can restart it.
        decl: JSON.stringify(decl),
        pid: rec.pid,
        starttime: rec.starttime,
        found_by: rec.how,
        restart: spec.restart,
        ready_timeout_ms: Number(spec.params.ready_timeout_ms ?? DEFAULT_READY_TIMEOUT_MS),
        // The tree at planning time; revert also re-reads the (stopped) root's tree.
        pids: tree.map((p) => `${p.pid}:${p.starttime}`).join(','),
      };
    },

    async inject(handle) {
      const rootPid = Number(handle.revert.pid);
      const root = { pid: rootPid, starttime: String(handle.revert.starttime) };
      if (procStartTime(root.pid) !== root.starttime) {
        throw new FaultPreconditionError(`target ${handle.target} (pid ${root.pid}) exited before the fault could be injected`);
      }
      if (handle.type === 'process_pause') {
        // Stop the root first so it cannot fork children we would miss, then the rest.
        process.kill(root.pid, 'SIGSTOP');
        const tree = processTree(root.pid);
        for (const p of tree) { try { process.kill(p.pid, 'SIGSTOP'); } catch { /* exited */ } }
        return { pids: tree.map((p) => `${p.pid}:${p.starttime}`).join(',') };
      }
      // Kill the whole tree at once: a PostgreSQL whose postmaster died but whose
      // backends live on keeps its shared memory and refuses to restart.
      const tree = processTree(root.pid);
      for (const p of tree) { try { process.kill(p.pid, 'SIGKILL'); } catch { /* exited */ } }
      for (let i = 0; i < 100; i++) {
        if (tree.every((p) => procStartTime(p.pid) !== p.starttime)) {
          // A multi-threaded process shows as a zombie while its other threads still
          // tear down and hold its sockets; wait (briefly) until it is fully gone.
          await awaitReaped(tree, 5000);
          return { pids: tree.map((p) => `${p.pid}:${p.starttime}`).join(',') };
        }
        await sleep(50);
      }
      throw new Error(`SIGKILL sent to ${handle.target}'s ${tree.length} processes, but some are still alive after 5 s`);
    },

    async revert(handle, ctx): Promise<BackendRevert> {
      const decl = declOf(handle, ctx);
      const service = String(handle.revert.service);
      const root = { pid: Number(handle.revert.pid), starttime: String(handle.revert.starttime) };
      if (handle.type === 'process_pause') {
        const targets = new Map<number, string>();
        for (const p of parsePids(handle.revert.pids)) targets.set(p.pid, p.starttime);
        if (procStartTime(root.pid) === root.starttime) for (const p of processTree(root.pid)) targets.set(p.pid, p.starttime);
        let resumed = 0;
        for (const [pid, starttime] of targets) {
          if (procStartTime(pid) !== starttime) continue; // gone, or the pid now belongs to another process
          if (procState(pid) === 'T') resumed++;
          try { process.kill(pid, 'SIGCONT'); } catch { /* exited meanwhile */ }
        }
        return { alreadyReverted: resumed === 0, detail: resumed ? `SIGCONT to ${resumed} stopped process(es) of ${service}` : `${service} was not stopped` };
      }
      const current = locateService(service, decl);
      if (!('problem' in current)) {
        const same = current.pid === root.pid && current.starttime === root.starttime;
        return { alreadyReverted: true, detail: same ? `${service} (pid ${root.pid}) is still running: it was never killed` : `${service} already running again (pid ${current.pid})` };
      }
      if (handle.revert.restart === false) return { alreadyReverted: false, detail: `${service} left down (restart: false)` };
      const t0 = Date.now();
      // Killed processes may linger as zombies until their (re)parent reaps them; a
      // restarted PostgreSQL takes a zombie postmaster for a live one and refuses to start.
      const killed = parsePids(handle.revert.pids);
      if (!(await awaitReaped(killed, 15_000))) {
        throw new Error(`${service}'s killed processes (${killed.map((p) => p.pid).join(', ')}) are still not reaped after 15 s; cannot restart it yet`);
      }
      const how = await restartService(service, decl, handle, ctx);
      return { alreadyReverted: false, detail: `${how}, ready after ${((Date.now() - t0) / 1000).toFixed(1)} s` };
    },

    async evidence(handle, ctx): Promise<Observation[]> {
      const service = String(handle.revert.service);
      const decl = declOf(handle, ctx);
      const out: Observation[] = [];
      const pids = parsePids(handle.revert.pids);
      if (handle.type === 'process_pause') {
        const states = pids.map((p) => ({ ...p, state: procStartTime(p.pid) === p.starttime ? procState(p.pid) : 'gone' }));
        const stopped = states.filter((s) => s.state === 'T').length;
        out.push({
          ok: stopped > 0 && stopped === states.filter((s) => s.state !== 'gone').length,
          description: `${service}: ${stopped}/${states.length} process(es) in state T (stopped) in /proc ` +
            `(${states.slice(0, 6).map((s) => `${s.pid}=${s.state}`).join(' ')}${states.length > 6 ? ' ...' : ''})`,
        });
        return out;
      }
      const rootGone = procStartTime(Number(handle.revert.pid)) !== String(handle.revert.starttime);
      const alive = pids.filter((p) => procStartTime(p.pid) === p.starttime).length;
      const now = locateService(service, decl);
      const replaced = rootGone && !('problem' in now) ? now.pid : undefined;
      out.push({
        ok: rootGone && replaced === undefined,
        description: `${service} pid ${String(handle.revert.pid)} ${rootGone ? 'gone' : 'still alive'}${handle.revert.found_by ? ` (found by ${String(handle.revert.found_by)})` : ''}; ${alive}/${pids.length} of its processes alive` +
          (replaced ? `; ${service} running again as pid ${replaced}` : ''),
      });
      const tcp = endpointOf(decl);
      if (tcp) {
        const refused = await refusesConnections(tcp.port, tcp.host);
        out.push({ ok: refused, description: `${service} ${tcp.host}:${tcp.port} ${refused ? 'refuses connections' : 'accepts connections'}` });
      }
      return out;
    },
  };
}
