// The `process` backend: faults on the embedded stack's own processes. A kill is a
// SIGKILL of the service's whole process tree (a crash, no shutdown path), healed by
// restarting the service through the stack supervisor and waiting for its real
// readiness check; a pause is SIGSTOP of the tree (a gray failure: sockets stay
// open, nothing answers), healed by SIGCONT.
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { StackConfig } from '../../../scripts/stack/config.ts';
import { isOurProcessAlive, processTree, procStartTime, readPidFile } from '../../../scripts/stack/process.ts';
import { stackServices } from '../../../scripts/stack/services/index.ts';
import { up } from '../../../scripts/stack/supervisor.ts';
import type { ServiceSpec } from '../../../scripts/stack/service.ts';
import { FaultPreconditionError, paramProblems, type BackendRevert, type FaultBackend, type Observation } from '../backend.ts';
import type { FaultHandle } from '../types.ts';

/**
 * Services that carry the harness itself: killing them would take down the
 * experiment's own records, orchestration or safety net rather than the system
 * under test.
 */
export const protectedServices: Record<string, string> = {
  'ordeal-db': "Ordeal's own state (fault leases, ledger)",
  watchdog: 'the fault watchdog (the safety net that reverts expired faults)',
  temporal: 'the orchestrator running the experiment',
  toxiproxy: 'the network fault proxy (use network_partition on a proxy instead)',
  prometheus: "the harness's metrics",
};

/** Same layout as the supervisor's: <home>/run/<service>.pid. */
const pidFileOf = (config: StackConfig, name: string) => join(config.home, 'run', `${name}.pid`);

function targetProblems(target: string, services: readonly ServiceSpec[]): string[] {
  if (protectedServices[target]) return [`target ${target} is ${protectedServices[target]}, not a system under test; it cannot be faulted`];
  if (!services.some((s) => s.name === target)) {
    const allowed = services.map((s) => s.name).filter((n) => !protectedServices[n]);
    return [`unknown target "${target}" for the process backend; stack services that can be faulted: ${allowed.join(', ')}`];
  }
  return [];
}

function runningRecord(config: StackConfig, service: string) {
  const rec = readPidFile(pidFileOf(config, service));
  if (!rec || !isOurProcessAlive(rec)) {
    throw new FaultPreconditionError(`target ${service} is not running (no live process in ${pidFileOf(config, service)}); ` +
      `start it first: ordeal stack up ${service}`);
  }
  return rec;
}

function sameStack(handle: FaultHandle, config: StackConfig): void {
  if (handle.revert.home !== config.home) {
    throw new FaultPreconditionError(`fault ${handle.faultId} was injected into the stack at ${String(handle.revert.home)}, ` +
      `but this process runs the stack at ${config.home} (set ORDEAL_HOME / ORDEAL_PORT_OFFSET like the injector)`);
  }
}

export function procState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
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
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] !== starttime;
  } catch {
    return true;
  }
}

export async function awaitReaped(pids: { pid: number; starttime: string }[], ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (pids.every((p) => reaped(p.pid, p.starttime))) return true;
    await sleep(50);
  }
  return false;
}

export function parsePids(text: unknown): { pid: number; starttime: string }[] {
  if (typeof text !== 'string' || text === '') return [];
  return text.split(',').map((p) => {
    const [pid, starttime] = p.split(':');
    return { pid: Number(pid), starttime: starttime ?? '' };
  });
}

/**
 * Puts a kill or pause in effect on the process tree a handle names (revert.pid,
 * revert.starttime): shared by the stack's processes and a system file's services.
 */
export async function signalTree(handle: FaultHandle): Promise<{ pids: string }> {
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
}

/** Undoes a pause: SIGCONT to every process of the tree still stopped (idempotent). */
export function resumeTree(handle: FaultHandle, service: string): BackendRevert {
  const root = { pid: Number(handle.revert.pid), starttime: String(handle.revert.starttime) };
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

/** What /proc shows of a paused tree. */
export function pauseEvidence(handle: FaultHandle, service: string): Observation {
  const pids = parsePids(handle.revert.pids);
  const states = pids.map((p) => ({ ...p, state: procStartTime(p.pid) === p.starttime ? procState(p.pid) : 'gone' }));
  const stopped = states.filter((s) => s.state === 'T').length;
  return {
    ok: stopped > 0 && stopped === states.filter((s) => s.state !== 'gone').length,
    description: `${service}: ${stopped}/${states.length} process(es) in state T (stopped) in /proc ` +
      `(${states.slice(0, 6).map((s) => `${s.pid}=${s.state}`).join(' ')}${states.length > 6 ? ' ...' : ''})`,
  };
}

export function processBackend(services: () => readonly ServiceSpec[] = () => stackServices): FaultBackend {
  return {
    name: 'process',
    types: ['database_kill', 'service_kill', 'process_pause'],

    check(spec) {
      return [...targetProblems(spec.target, services()), ...paramProblems(spec, {})];
    },

    async plan(spec, _faultId, ctx) {
      const rec = runningRecord(ctx.config, spec.target);
      const tree = processTree(rec.pid);
      return {
        home: ctx.config.home,
        service: spec.target,
        pid: rec.pid,
        starttime: rec.starttime,
        restart: spec.restart,
        // The tree at planning time; revert also re-reads the (stopped) root's tree.
        pids: tree.map((p) => `${p.pid}:${p.starttime}`).join(','),
      };
    },

    inject: (handle) => signalTree(handle),

    async revert(handle, ctx): Promise<BackendRevert> {
      sameStack(handle, ctx.config);
      const service = String(handle.revert.service);
      const root = { pid: Number(handle.revert.pid), starttime: String(handle.revert.starttime) };
      if (handle.type === 'process_pause') return resumeTree(handle, service);
      const current = readPidFile(pidFileOf(ctx.config, service));
      if (current && isOurProcessAlive(current)) {
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
      const rows = await up({ config: ctx.config, services: services(), only: [service] });
      const row = rows.find((r) => r.service === service);
      if (row?.state !== 'up') throw new Error(`restarted ${service}, but it is ${row?.state ?? 'missing'}: ${row?.detail ?? ''}`);
      return { alreadyReverted: false, detail: `restarted ${service} (pid ${row.pid}), ready after ${((Date.now() - t0) / 1000).toFixed(1)} s` };
    },

    async evidence(handle, ctx): Promise<Observation[]> {
      const service = String(handle.revert.service);
      const spec = services().find((s) => s.name === service);
      const out: Observation[] = [];
      const pids = parsePids(handle.revert.pids);
      if (handle.type === 'process_pause') return [pauseEvidence(handle, service)];
      const rootGone = procStartTime(Number(handle.revert.pid)) !== String(handle.revert.starttime);
      const alive = pids.filter((p) => procStartTime(p.pid) === p.starttime).length;
      const now = readPidFile(pidFileOf(ctx.config, service));
      const replaced = rootGone && now !== undefined && isOurProcessAlive(now) ? now.pid : undefined;
      out.push({
        ok: rootGone && replaced === undefined,
        description: `${service} pid ${String(handle.revert.pid)} ${rootGone ? 'gone' : 'still alive'}; ${alive}/${pids.length} of its processes alive` +
          (replaced ? `; ${service} running again as pid ${replaced}` : ''),
      });
      const port = spec ? ctx.config.ports[spec.ports[0]!] : undefined;
      if (port !== undefined) {
        const refused = await refusesConnections(port);
        out.push({ ok: refused, description: `${service} port ${port} ${refused ? 'refuses connections' : 'accepts connections'}` });
      }
      return out;
    },
  };
}
