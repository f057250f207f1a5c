// Brings the embedded stack up and down. `up` checks every port before starting
// anything, starts what is not already running, and waits for real readiness;
// `down` ends exactly the processes it started, by pid.
import { existsSync, lstatSync, mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFECTS_ENV, defectsOf, parseDefects, type DefectName } from '../../systems/defects.ts';
import type { PortName, StackConfig } from './config.ts';
import { isOurProcessAlive, launch, processTree, readPidFile, removePidFile, tail, terminate, type PidRecord } from './process.ts';
import type { ServiceContext, ServiceSpec } from './service.ts';
import { writeSystemFile } from './system-file.ts';

export type ServiceState = 'up' | 'down' | 'unhealthy';

export interface ServiceStatus {
  service: string;
  state: ServiceState;
  pid: number | null;
  port: number;
  url: string;
  detail: string;
  /** Seeded defects the running process carries; null for services that carry none. */
  defects: string[] | null;
}

export type ProgressEvent =
  | { service: string; event: 'starting' | 'already-running' }
  | { service: string; event: 'restarting'; reason: string }
  | { service: string; event: 'ready'; ms: number; detail?: string }
  | { service: string; event: 'stopping' | 'stopped' | 'killed' | 'not-running' };

export interface StackOptions {
  config: StackConfig;
  services: readonly ServiceSpec[];
  /** Limit to these services (and what they need); all when empty. */
  only?: readonly string[];
  onProgress?: (e: ProgressEvent) => void;
  /**
   * Seeded defects (`up` only). Given: the stack's set from now on (persisted); services
   * running with another set are restarted. Absent: the set last given (none on a fresh
   * stack), so that restarting a killed service never silently drops its defects.
   */
  defects?: readonly string[];
}

export class PortInUseError extends Error {
  override name = 'PortInUseError';
  readonly conflicts: { service: string; portName: PortName; port: number }[];
  constructor(conflicts: { service: string; portName: PortName; port: number }[]) {
    super(
      'cannot start the stack, ports already in use (nothing was started):\n' +
        conflicts.map((c) => `  ${c.service}: port ${c.port} (${c.portName}) is in use by another process`).join('\n') +
        '\nStop that process, or move the stack: ORDEAL_PORT_OFFSET=<n> or ORDEAL_PORT_<NAME>=<port>.',
    );
    this.conflicts = conflicts;
  }
}

export class ServiceStartError extends Error {
  override name = 'ServiceStartError';
  readonly service: string;
  readonly logFile: string;
  constructor(service: string, reason: string, logTail: string, logFile: string) {
    super(`${service} did not become ready: ${reason}\n--- last lines of ${logFile} ---\n${logTail}`);
    this.service = service;
    this.logFile = logFile;
  }
}

export function context(config: StackConfig, services: readonly ServiceSpec[], spec: ServiceSpec,
  defects: readonly DefectName[] = []): ServiceContext {
  return {
    defects,
    config,
    dataDir: join(config.home, 'data', spec.name),
    logFile: join(config.home, 'logs', `${spec.name}.log`),
    tool: (name) => join(config.tools, 'bin', name),
    services,
  };
}

const pidFile = (config: StackConfig, name: string) => join(config.home, 'run', `${name}.pid`);
const defectsFile = (config: StackConfig) => join(config.home, 'run', 'defects.json');

/** The seeded defects last asked for with `up --defects` (none on a fresh stack). */
export function readStackDefects(config: StackConfig): DefectName[] {
  const file = defectsFile(config);
  if (!existsSync(file)) return [];
  try {
    return parseDefects((JSON.parse(readFileSync(file, 'utf8')) as { defects: string[] }).defects);
  } catch {
    return [];
  }
}

function writeStackDefects(config: StackConfig, defects: readonly DefectName[]): void {
  mkdirSync(join(config.home, 'run'), { recursive: true });
  if (defects.length === 0) rmSync(defectsFile(config), { force: true });
  else writeFileSync(defectsFile(config), JSON.stringify({ defects, setAt: new Date().toISOString() }) + '\n');
}

function select(services: readonly ServiceSpec[], only?: readonly string[]): ServiceSpec[] {
  if (!only || only.length === 0) return [...services];
  const unknown = only.filter((n) => !services.some((s) => s.name === n));
  if (unknown.length) {
    throw new Error(`unknown service(s): ${unknown.join(', ')}; the stack has ${services.map((s) => s.name).join(', ')}`);
  }
  const wanted = new Set<string>();
  const add = (name: string) => {
    if (wanted.has(name)) return;
    wanted.add(name);
    const spec = services.find((s) => s.name === name)!;
    for (const dep of spec.after ?? []) add(dep);
    if (spec.proxy) add('toxiproxy');
  };
  only.forEach(add);
  return services.filter((s) => wanted.has(s.name));
}

export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

export async function up(opts: StackOptions): Promise<ServiceStatus[]> {
  const { config, services } = opts;
  const chosen = select(services, opts.only);
  mkdirSync(join(config.home, 'run'), { recursive: true });
  mkdirSync(join(config.home, 'logs'), { recursive: true });
  mkdirSync(join(config.home, 'data'), { recursive: true });
  writeSystemFile(config);

  const explicit = opts.defects !== undefined;
  const defects = explicit ? parseDefects(opts.defects) : readStackDefects(config);
  if (explicit) writeStackDefects(config, defects);
  const wantedDefects = (spec: ServiceSpec) => (spec.defects ? defectsOf(spec.defects, defects) : []);
  // A service carrying other defects than asked for is restarted, so that the stack
  // runs exactly the requested defects.
  for (const spec of explicit ? chosen : []) {
    const rec = readPidFile(pidFile(config, spec.name));
    if (!spec.defects || !isOurProcessAlive(rec)) continue;
    const have = [...(rec?.defects ?? [])].sort().join(',');
    const want = wantedDefects(spec).join(',');
    if (have === want) continue;
    opts.onProgress?.({ service: spec.name, event: 'restarting', reason: `defects ${have || 'none'} -> ${want || 'none'}` });
    await stopOne(config, spec, opts.onProgress);
  }
  const toStart = chosen.filter((s) => !isOurProcessAlive(readPidFile(pidFile(config, s.name))));
  const running = new Set(chosen.filter((s) => !toStart.includes(s)).map((s) => s.name));

  // Proxy ports of a service already running are bound by toxiproxy; check them only
  // when toxiproxy itself is about to start.
  const conflicts: { service: string; portName: PortName; port: number }[] = [];
  const toxiproxyStarting = toStart.some((s) => s.name === 'toxiproxy');
  for (const spec of chosen) {
    const names = toStart.includes(spec) ? [...spec.ports] : [];
    if (spec.proxy && toxiproxyStarting) names.push(spec.proxy.listen);
    for (const portName of names) {
      const port = config.ports[portName];
      if (!(await portFree(port))) conflicts.push({ service: spec.name, portName, port });
    }
  }
  if (conflicts.length) throw new PortInUseError(conflicts);

  const started: ServiceSpec[] = [];
  try {
    for (const spec of toStart) {
      const ctx = context(config, services, spec, defects);
      opts.onProgress?.({ service: spec.name, event: 'starting' });
      mkdirSync(ctx.dataDir, { recursive: true });
      await spec.prepare?.(ctx);
      const ls = spec.launch(ctx);
      // Set for every process, so that a value in the caller's environment never leaks into the stack.
      const own = wantedDefects(spec);
      launch({ ...ls, env: { ...ls.env, [DEFECTS_ENV]: own.join(',') } }, ctx.logFile, pidFile(config, spec.name),
        spec.defects ? { defects: own } : {});
      started.push(spec);
    }
    for (const spec of chosen) if (running.has(spec.name)) opts.onProgress?.({ service: spec.name, event: 'already-running' });

    const readiness = new Map<string, Promise<void>>();
    const t0 = Date.now();
    const awaitReady = (spec: ServiceSpec): Promise<void> => {
      let p = readiness.get(spec.name);
      if (!p) {
        p = (async () => {
          for (const dep of spec.after ?? []) {
            const depSpec = chosen.find((s) => s.name === dep);
            if (depSpec) await awaitReady(depSpec);
          }
          const detail = await waitReady(config, services, spec);
          opts.onProgress?.({ service: spec.name, event: 'ready', ms: Date.now() - t0, ...(detail ? { detail } : {}) });
        })();
        readiness.set(spec.name, p);
      }
      return p;
    };
    // Proxies must exist before anyone's readiness check goes through them.
    const tp = chosen.find((s) => s.name === 'toxiproxy');
    if (tp) await awaitReady(tp);
    const results = await Promise.allSettled(chosen.map(awaitReady));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  } catch (err) {
    // Leave nothing half-started: stop what this call started, newest first.
    for (const spec of [...started].reverse()) await stopOne(config, spec, opts.onProgress);
    throw err;
  }
  return status({ ...opts, only: chosen.map((s) => s.name) });
}

async function waitReady(config: StackConfig, services: readonly ServiceSpec[], spec: ServiceSpec): Promise<string | undefined> {
  const ctx = context(config, services, spec);
  const deadline = Date.now() + (spec.readyTimeoutMs ?? 45000);
  let lastError = 'no check ran';
  while (Date.now() < deadline) {
    const rec = readPidFile(pidFile(config, spec.name));
    if (!isOurProcessAlive(rec)) {
      throw new ServiceStartError(spec.name, `the process exited (${lastError})`, tail(ctx.logFile), ctx.logFile);
    }
    try {
      return (await withTimeout(spec.ready(ctx), 10000, `${spec.name} readiness check`)) ?? undefined;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
    await sleep(250);
  }
  throw new ServiceStartError(spec.name, `timed out after ${spec.readyTimeoutMs ?? 45000} ms (${lastError})`,
    tail(ctx.logFile), ctx.logFile);
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

async function stopOne(config: StackConfig, spec: ServiceSpec, onProgress?: (e: ProgressEvent) => void): Promise<void> {
  const file = pidFile(config, spec.name);
  const rec = readPidFile(file);
  if (!rec || !isOurProcessAlive(rec)) {
    removePidFile(file);
    onProgress?.({ service: spec.name, event: 'not-running' });
    return;
  }
  onProgress?.({ service: spec.name, event: 'stopping' });
  const how = await terminate(rec, spec.stopSignal ?? 'SIGTERM', spec.stopGraceMs ?? 10000);
  removePidFile(file);
  onProgress?.({ service: spec.name, event: how === 'killed' ? 'killed' : 'stopped' });
}

/**
 * Stops the services (all by default) in reverse start order. With purge, their
 * data and logs go too (a data dir kept outside the home, behind a symlink, included).
 */
export async function down(opts: StackOptions & { purge?: boolean }): Promise<void> {
  const chosen = opts.only?.length ? select(opts.services, opts.only).filter((s) => opts.only!.includes(s.name)) : [...opts.services];
  for (const spec of chosen.reverse()) await stopOne(opts.config, spec, opts.onProgress);
  // The whole stack down: the next `up` starts from the default again (no defects).
  if (!opts.only?.length) writeStackDefects(opts.config, []);
  if (!opts.purge) return;
  for (const spec of chosen) {
    const ctx = context(opts.config, opts.services, spec);
    const link = lstatSync(ctx.dataDir, { throwIfNoEntry: false });
    if (link?.isSymbolicLink()) rmSync(realpathOrSelf(ctx.dataDir), { recursive: true, force: true });
    rmSync(ctx.dataDir, { recursive: true, force: true });
    rmSync(ctx.logFile, { force: true });
  }
}

function realpathOrSelf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

export async function status(opts: StackOptions): Promise<ServiceStatus[]> {
  const { config, services } = opts;
  const chosen = select(services, opts.only);
  return Promise.all(
    chosen.map(async (spec): Promise<ServiceStatus> => {
      const rec = readPidFile(pidFile(config, spec.name));
      const main = spec.proxy ? config.ports[spec.proxy.listen] : config.ports[spec.ports[0]!];
      const base = { service: spec.name, port: main, url: spec.url(config), defects: spec.defects ? (rec?.defects ?? []) : null };
      if (!rec || !isOurProcessAlive(rec)) {
        return { ...base, state: 'down', pid: null, detail: rec ? `exited (was pid ${rec.pid})` : 'not started' };
      }
      try {
        const detail = await withTimeout(spec.ready(context(config, services, spec)), 5000, 'check');
        return { ...base, state: 'up', pid: rec.pid, detail: detail ?? '' };
      } catch (err) {
        return { ...base, state: 'unhealthy', pid: rec.pid, detail: err instanceof Error ? err.message : String(err) };
      }
    }),
  );
}

export function logFileOf(config: StackConfig, services: readonly ServiceSpec[], name: string): string {
  const spec = services.find((s) => s.name === name);
  if (!spec) throw new Error(`unknown service ${name}; the stack has ${services.map((s) => s.name).join(', ')}`);
  return context(config, services, spec).logFile;
}

/** Pids of every live process the stack started, children included (for tests and diagnostics). */
export function stackProcessIds(config: StackConfig, services: readonly ServiceSpec[]): number[] {
  return services
    .map((s) => readPidFile(pidFile(config, s.name)))
    .filter((r): r is PidRecord => r !== undefined && isOurProcessAlive(r))
    .flatMap((r) => processTree(r.pid).map((p) => p.pid));
}
