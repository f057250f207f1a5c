// The `service` backend: kill and pause on a process service declared in a system
// file (the user's own service, not one the embedded stack started). A kill is a
// SIGKILL of the service's whole tree, healed by running its `start` command (or
// `systemctl start` for a unit) and waiting until it is ready; a pause is SIGSTOP of
// the tree, healed by SIGCONT. The handle carries the declaration, so any worker of
// the same host can revert it from the handle alone.
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { processTree, procStartTime } from '../../../scripts/stack/process.ts';
import { FaultPreconditionError, paramProblems, type BackendRevert, type FaultBackend, type FaultContext, type Observation } from '../backend.ts';
import { awaitReaped, parsePids, pauseEvidence, refusesConnections, resumeTree, signalTree } from '../process/index.ts';
import type { ProcessServiceDecl, Readiness } from '../system.ts';
import type { FaultHandle, FaultSpec } from '../types.ts';
import { findService, systemctl, type ServiceProcess } from './target.ts';

export { findService, matchingRoots, readServicePid } from './target.ts';

const DEFAULT_READY_TIMEOUT_MS = 60_000;

function declOf(spec: FaultSpec, ctx: FaultContext): ProcessServiceDecl {
  const decl = ctx.system?.services[spec.target];
  if (decl?.kind !== 'process') throw new FaultPreconditionError(`${spec.target} is not a process service of the system file`);
  return decl;
}

function handleDecl(handle: FaultHandle): ProcessServiceDecl {
  try {
    return JSON.parse(String(handle.revert.decl)) as ProcessServiceDecl;
  } catch {
    throw new FaultPreconditionError(`fault ${handle.faultId} carries no service declaration (revert.decl); cannot revert it`);
  }
}

/** Problems visible without touching anything. */
export function serviceProblems(spec: FaultSpec, decl: ProcessServiceDecl): string[] {
  const out = paramProblems(spec, { ready_timeout_ms: [1000, 600_000] });
  const ways = [decl.pid_file, decl.match, decl.systemd_unit].filter((x) => x !== undefined).length;
  if (ways !== 1) out.push(`service ${spec.target} must name exactly one of pid_file, match, systemd_unit (it names ${ways})`);
  if (spec.type !== 'process_pause' && spec.restart && decl.systemd_unit === undefined && !decl.start) {
    out.push(`service ${spec.target} has no start command, so a kill could not be reverted; declare services.${spec.target}.start, or set restart: false on the fault`);
  }
  return out;
}

function hostPort(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(':');
  return { host: addr.slice(0, i).replace(/^\[|\]$/g, '') || '127.0.0.1', port: Number(addr.slice(i + 1)) };
}

/** The TCP endpoint that shows whether the service answers (its readiness port, else its url's). */
function portOf(decl: ProcessServiceDecl): { host: string; port: number } | undefined {
  if (decl.ready && 'tcp' in decl.ready) return hostPort(decl.ready.tcp);
  const url = decl.ready && 'http' in decl.ready ? decl.ready.http : decl.url;
  if (!url) return undefined;
  try {
    const u = new URL(url);
    const port = Number(u.port || (u.protocol === 'https:' ? 443 : u.protocol === 'http:' ? 80 : NaN));
    return Number.isFinite(port) ? { host: u.hostname.replace(/^\[|\]$/g, ''), port } : undefined;
  } catch {
    return undefined;
  }
}

/** One readiness probe: an HTTP 2xx or an accepted TCP connection. */
export async function readyOnce(ready: Readiness): Promise<{ ok: boolean; detail: string }> {
  if ('http' in ready) {
    try {
      const res = await request(ready.http, { headersTimeout: 2000, bodyTimeout: 2000 });
      await res.body.dump();
      return { ok: res.statusCode >= 200 && res.statusCode < 300, detail: `GET ${ready.http} → ${res.statusCode}` };
    } catch (err) {
      return { ok: false, detail: `GET ${ready.http}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
    }
  }
  const { host, port } = hostPort(ready.tcp);
  return new Promise((resolve) => {
    const sock = connect({ host, port, timeout: 2000 });
    sock.once('connect', () => { sock.destroy(); resolve({ ok: true, detail: `TCP ${ready.tcp} accepts` }); });
    sock.once('timeout', () => { sock.destroy(); resolve({ ok: false, detail: `TCP ${ready.tcp}: no answer in 2 s` }); });
    sock.once('error', (err: NodeJS.ErrnoException) => resolve({ ok: false, detail: `TCP ${ready.tcp}: ${err.code ?? err.message}` }));
  });
}

function logTail(path: string, lines = 8): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Where a restarted service's output goes: <home>/logs/services/<name>.log. */
export const serviceLogOf = (home: string, name: string) => join(home, 'logs', 'services', `${name}.log`);

/**
 * Starts the service the way its declaration says and waits until it is up: its
 * process found again and, when declared, its readiness check passing.
 */
async function restart(name: string, decl: ProcessServiceDecl, logFile: string, timeoutMs: number): Promise<{ proc: ServiceProcess; detail: string }> {
  const t0 = Date.now();
  let exited: { code: number | null; signal: string | null } | undefined;
  if (decl.systemd_unit !== undefined) {
    try {
      execFileSync(systemctl(), ['start', decl.systemd_unit], { timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      throw new Error(`systemctl start ${decl.systemd_unit} failed: ${(err as { stderr?: Buffer }).stderr?.toString().trim() || (err as Error).message}`, { cause: err });
    }
  } else {
    mkdirSync(join(logFile, '..'), { recursive: true });
    const fd = openSync(logFile, 'a');
    try {
      // Detached, in its own process group, output to a log: the service outlives the worker.
      const child = spawn('/bin/sh', ['-c', decl.start!], {
        cwd: decl.cwd, env: { ...process.env, ...decl.env }, detached: true, stdio: ['ignore', fd, fd],
      });
      child.once('exit', (code, signal) => { exited = { code, signal }; });
      child.once('error', (err) => { exited = { code: null, signal: err.message }; });
      child.unref();
    } finally {
      closeSync(fd);
    }
  }
  let last = 'not found yet';
  while (Date.now() - t0 < timeoutMs) {
    const proc = findService(name, decl);
    if (proc) {
      if (!decl.ready) return { proc, detail: `${proc.how} names pid ${proc.pid}` };
      const r = await readyOnce(decl.ready);
      if (r.ok) return { proc, detail: r.detail };
      last = r.detail;
    } else if (exited && exited.code !== 0) {
      throw new Error(`start command of ${name} exited (${exited.code ?? exited.signal}) and the service is not running; log ${logFile}:\n${logTail(logFile)}`);
    }
    await sleep(100);
  }
  throw new Error(`${name} not ready ${(timeoutMs / 1000).toFixed(0)} s after its restart (${last}); log ${logFile}:\n${logTail(logFile)}`);
}

export function serviceBackend(): FaultBackend {
  return {
    name: 'service',
    types: ['database_kill', 'service_kill', 'process_pause'],

    check(spec, ctx) {
      const decl = ctx.system?.services[spec.target];
      if (!decl) return [`unknown target "${spec.target}": not a service of the system file (services: ${Object.keys(ctx.system?.services ?? {}).join(', ') || 'none'})`];
      if (decl.kind !== 'process') return [`service ${spec.target} is a ${decl.kind} service; the service backend faults process services`];
      return serviceProblems(spec, decl);
    },

    async probe(spec, ctx) {
      try {
        const proc = findService(spec.target, declOf(spec, ctx));
        return proc ? [] : [`service ${spec.target} is not running (nothing found by its declaration)`];
      } catch (err) {
        return [(err as Error).message];
      }
    },

    async plan(spec, _faultId, ctx) {
      const decl = declOf(spec, ctx);
      const proc = findService(spec.target, decl);
      if (!proc) {
        const how = decl.pid_file ? `pid file ${decl.pid_file}` : decl.match ? `match /${decl.match}/` : `unit ${decl.systemd_unit}`;
        throw new FaultPreconditionError(`service ${spec.target} is not running (no live process by ${how}); start it first`);
      }
      const tree = processTree(proc.pid);
      return {
        service: spec.target,
        decl: JSON.stringify(decl),
        home: ctx.config.home,
        pid: proc.pid,
        starttime: proc.starttime,
        found_by: proc.how,
        restart: spec.restart,
        ready_timeout_ms: Number(spec.params.ready_timeout_ms ?? DEFAULT_READY_TIMEOUT_MS),
        pids: tree.map((p) => `${p.pid}:${p.starttime}`).join(','),
      };
    },

    inject: (handle) => signalTree(handle),

    async revert(handle, ctx): Promise<BackendRevert> {
      const service = String(handle.revert.service);
      if (handle.type === 'process_pause') return resumeTree(handle, service);
      const decl = handleDecl(handle);
      const current = findService(service, decl);
      if (current) {
        const same = current.pid === Number(handle.revert.pid) && current.starttime === String(handle.revert.starttime);
        return { alreadyReverted: true, detail: same ? `${service} (pid ${current.pid}) is still running: it was never killed` : `${service} already running again (pid ${current.pid}, ${current.how})` };
      }
      if (handle.revert.restart === false) return { alreadyReverted: false, detail: `${service} left down (restart: false)` };
      const killed = parsePids(handle.revert.pids);
      // A zombie may still hold the service's port or lock files.
      if (!(await awaitReaped(killed, 15_000))) {
        throw new Error(`${service}'s killed processes (${killed.map((p) => p.pid).join(', ')}) are still not reaped after 15 s; cannot restart it yet`);
      }
      const t0 = Date.now();
      const logFile = serviceLogOf(String(handle.revert.home ?? ctx.config.home), service);
      const { proc, detail } = await restart(service, decl, logFile, Number(handle.revert.ready_timeout_ms ?? DEFAULT_READY_TIMEOUT_MS));
      const how = decl.systemd_unit !== undefined ? `systemctl start ${decl.systemd_unit}` : 'its start command';
      return { alreadyReverted: false, detail: `restarted ${service} by ${how} (pid ${proc.pid}), ready after ${((Date.now() - t0) / 1000).toFixed(1)} s: ${detail}` };
    },

    async evidence(handle): Promise<Observation[]> {
      const service = String(handle.revert.service);
      if (handle.type === 'process_pause') return [pauseEvidence(handle, service)];
      const decl = handleDecl(handle);
      const pids = parsePids(handle.revert.pids);
      const rootGone = !pids.some((p) => p.pid === Number(handle.revert.pid) && alive(p));
      const still = pids.filter(alive).length;
      let now: ServiceProcess | undefined;
      try { now = findService(service, decl); } catch { now = undefined; }
      const out: Observation[] = [{
        ok: rootGone && now === undefined,
        description: `${service} pid ${String(handle.revert.pid)} (${String(handle.revert.found_by)}) ${rootGone ? 'gone' : 'still alive'}; ` +
          `${still}/${pids.length} of its processes alive${now ? `; running again as pid ${now.pid}` : ''}`,
      }];
      const port = portOf(decl);
      if (port) {
        const refused = await refusesConnections(port.port, port.host);
        out.push({ ok: refused, description: `${service} ${port.host}:${port.port} ${refused ? 'refuses connections' : 'accepts connections'}` });
      }
      return out;
    },
  };
}

const alive = (p: { pid: number; starttime: string }) => procStartTime(p.pid) === p.starttime;
