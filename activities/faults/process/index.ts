// The `process` backend: faults on the processes a system file declares (the
// embedded stack's own system file declares its services by their pid files). A
// kill is a SIGKILL of the service's whole process tree (a crash, no shutdown
// path), healed by restarting it (the host's supervisor when it owns the service,
// else the declaration's `start`) and waiting until it is ready; a pause is SIGSTOP
// of the tree (a gray failure: sockets stay open, nothing answers), healed by SIGCONT.
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { processTree, procStartTime } from '../../proc/index.ts';
import { protectedComponents, splitHostPort, type ProcessServiceDecl, type ServiceDecl, type SystemFile } from '../../system/schema.ts';
import { FaultPreconditionError, paramProblems, type BackendRevert, type FaultBackend, type FaultContext, type Observation } from '../backend.ts';
import type { FaultHandle } from '../types.ts';

/** Kept for callers of the old name: Ordeal's own components, never faulted. */
export const protectedServices = protectedComponents;

function targetProblems(target: string, system: SystemFile): string[] {
  if (protectedComponents[target]) return [`target ${target} is ${protectedComponents[target]}, not a system under test; it cannot be faulted`];
  const decl = system.services[target];
  const allowed = Object.entries(system.services).filter(([n, d]) => d.kind === 'process' && !protectedComponents[n]).map(([n]) => n);
  if (!decl) return [`unknown target "${target}" for the process backend; services of system ${system.name} that can be faulted: ${allowed.join(', ') || 'none'}`];
  if (decl.kind !== 'process') return [`target ${target} is a ${decl.kind} service of system ${system.name}; use backend: ${decl.kind}`];
  return [];
}

/** A pid file holds a bare pid, or the stack supervisor's JSON record { pid, starttime }. */
function pidFromFile(path: string): { pid: number; starttime?: string } | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
  if (/^\d+$/.test(text)) return { pid: Number(text) };
  try {
    const rec = JSON.parse(text) as { pid?: unknown; starttime?: unknown };
    if (typeof rec.pid === 'number') return { pid: rec.pid, ...(typeof rec.starttime === 'string' ? { starttime: rec.starttime } : {}) };
  } catch { /* fall through */ }
  return undefined;
}

/**
 * The live root process of a declared service, or why there is none. pid_file here;
 * match and systemd_unit through the process-target module when it is wired in.
 */
export function locateService(service: string, decl: ProcessServiceDecl): { pid: number; starttime: string } | { problem: string } {
  if (!decl.pid_file) {
    return { problem: `${service} is declared by ${decl.match !== undefined ? 'match' : 'systemd_unit'}, which this build cannot resolve yet (declare pid_file)` };
  }
  const rec = pidFromFile(decl.pid_file);
  if (!rec) return { problem: `no pid in ${decl.pid_file}` };
  const starttime = procStartTime(rec.pid);
  if (starttime === undefined) return { problem: `pid ${rec.pid} from ${decl.pid_file} is not running` };
  // The supervisor's record names a start time: a later process that reused the pid is not ours.
  if (rec.starttime !== undefined && rec.starttime !== starttime) return { problem: `pid ${rec.pid} from ${decl.pid_file} is a different process now (start time changed)` };
  return { pid: rec.pid, starttime };
}

function runningRoot(service: string, decl: ProcessServiceDecl): { pid: number; starttime: string } {
  const found = locateService(service, decl);
  if ('problem' in found) throw new FaultPreconditionError(`target ${service} is not running (${found.problem}); start it first`);
  return found;
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

/** The host's own restart (the stack's supervisor), else the declaration's `start`. */
async function restartService(service: string, decl: ProcessServiceDecl, ctx: FaultContext): Promise<string> {
  const hosted = await ctx.env.restart?.(service, decl);
  if (hosted) return hosted.detail;
  if (!decl.start) throw new FaultPreconditionError(`${service} was killed and its declaration has no start command; restart it by hand (or declare start:)`);
  const { spawn } = await import('node:child_process');
  const child = spawn('/bin/sh', ['-c', decl.start], { cwd: decl.cwd, env: { ...process.env, ...decl.env }, detached: true, stdio: 'ignore' });
  child.unref();
  await awaitReady(service, decl, 60_000);
  return `started ${service} with \`${decl.start}\``;
}

/** Waits for the declared readiness (a 2xx from ready.http, or a TCP accept on ready.tcp). */
async function awaitReady(service: string, decl: ProcessServiceDecl, ms: number): Promise<void> {
  if (!decl.ready) return;
  const deadline = Date.now() + ms;
  for (;;) {
    if (await isReady(decl)) return;
    if (Date.now() > deadline) throw new Error(`${service} did not become ready (${JSON.stringify(decl.ready)}) within ${ms / 1000} s of its start`);
    await sleep(200);
  }
}

async function isReady(decl: ProcessServiceDecl): Promise<boolean> {
  const r = decl.ready;
  if (!r) return true;
  if ('http' in r) {
    try {
      const res = await fetch(r.http, { signal: AbortSignal.timeout(2000) });
      return res.status >= 200 && res.status < 300;
    } catch {
      return false;
    }
  }
  const hp = splitHostPort(r.tcp);
  return hp ? !(await refusesConnections(hp.port, hp.host)) : false;
}

function procState(pid: number): string | undefined {
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
      return [...targetProblems(spec.target, ctx.system), ...paramProblems(spec, {})];
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
        restart: spec.restart,
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
      const how = await restartService(service, decl, ctx);
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
        description: `${service} pid ${String(handle.revert.pid)} ${rootGone ? 'gone' : 'still alive'}; ${alive}/${pids.length} of its processes alive` +
          (replaced ? `; ${service} running again as pid ${replaced}` : ''),
      });
      const tcp = decl.ready && 'tcp' in decl.ready ? splitHostPort(decl.ready.tcp) : undefined;
      if (tcp) {
        const refused = await refusesConnections(tcp.port, tcp.host);
        out.push({ ok: refused, description: `${service} port ${tcp.port} ${refused ? 'refuses connections' : 'accepts connections'}` });
      }
      return out;
    },
  };
}
