// Bringing a declared service back after a kill, the way its declaration says: its
// `start` command (detached, in its cwd and env, output to a log file), or
// `systemctl start` for a unit; then waiting until its process is found again and
// its readiness check (an HTTP 2xx, or a TCP accept) passes.
import { execFile, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { request } from 'undici';
import { splitHostPort, type ProcessServiceDecl, type Readiness } from '../../system/schema.ts';
import { findService, systemctl, type ServiceProcess } from './target.ts';

const execFileAsync = promisify(execFile);

export const DEFAULT_READY_TIMEOUT_MS = 60_000;

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
  const hp = splitHostPort(ready.tcp);
  if (!hp) return { ok: false, detail: `ready.tcp ${ready.tcp} is not host:port` };
  return new Promise((resolve) => {
    const sock = connect({ host: hp.host.replace(/^\[|\]$/g, ''), port: hp.port, timeout: 2000 });
    sock.once('connect', () => { sock.destroy(); resolve({ ok: true, detail: `TCP ${ready.tcp} accepts` }); });
    sock.once('timeout', () => { sock.destroy(); resolve({ ok: false, detail: `TCP ${ready.tcp}: no answer in 2 s` }); });
    sock.once('error', (err: NodeJS.ErrnoException) => resolve({ ok: false, detail: `TCP ${ready.tcp}: ${err.code ?? err.message}` }));
  });
}

/** The TCP endpoint that shows whether the service answers: its readiness port, else its url's. */
export function endpointOf(decl: ProcessServiceDecl): { host: string; port: number } | undefined {
  if (decl.ready && 'tcp' in decl.ready) return splitHostPort(decl.ready.tcp);
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

function logTail(path: string, lines = 8): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Where a restarted service's output goes: <stateDir>/logs/services/<name>.log. */
export const serviceLogOf = (stateDir: string, name: string) => join(stateDir, 'logs', 'services', `${name}.log`);

/**
 * Starts the service the way its declaration says and waits until it is up: its
 * process found again and, when declared, its readiness check passing. Throws with
 * the log's tail when the start command fails or readiness never comes.
 */
export async function startDeclared(name: string, decl: ProcessServiceDecl, logFile: string, timeoutMs = DEFAULT_READY_TIMEOUT_MS): Promise<{ proc: ServiceProcess; detail: string }> {
  const t0 = Date.now();
  let exited: { code: number | null; signal: string | null } | undefined;
  if (decl.systemd_unit !== undefined) {
    try {
      // Asynchronous: a unit's start can take seconds, and a blocked event loop would miss
      // the activity's heartbeats (retried elsewhere mid-start).
      await execFileAsync(systemctl(), ['start', decl.systemd_unit], { timeout: timeoutMs });
    } catch (err) {
      throw new Error(`systemctl start ${decl.systemd_unit} failed: ${(err as { stderr?: Buffer }).stderr?.toString().trim() || (err as Error).message}`, { cause: err });
    }
  } else {
    if (!decl.start) throw new Error(`${name} has no start command (declare services.${name}.start)`);
    mkdirSync(dirname(logFile), { recursive: true });
    const fd = openSync(logFile, 'a');
    try {
      // Detached, in its own process group, output to a log: the service outlives the worker.
      const child = spawn('/bin/sh', ['-c', decl.start], { cwd: decl.cwd, env: { ...process.env, ...decl.env }, detached: true, stdio: ['ignore', fd, fd] });
      child.once('exit', (code, signal) => { exited = { code, signal }; });
      child.once('error', (err) => { exited = { code: null, signal: err.message }; });
      child.unref();
    } finally {
      closeSync(fd);
    }
  }
  let last = 'its process is not found yet';
  while (Date.now() - t0 < timeoutMs) {
    const proc = findService(name, decl);
    if (proc) {
      if (!decl.ready) return { proc, detail: `${proc.how} names pid ${proc.pid}` };
      const r = await readyOnce(decl.ready);
      if (r.ok) return { proc, detail: r.detail };
      last = r.detail;
    } else if (exited && exited.code !== 0) {
      throw new Error(`the start command of ${name} exited (${exited.code ?? exited.signal}) and the service is not running; log ${logFile}:\n${logTail(logFile)}`);
    }
    await sleep(100);
  }
  throw new Error(`${name} not ready ${(timeoutMs / 1000).toFixed(0)} s after its restart (${last}); log ${logFile}:\n${logTail(logFile)}`);
}
