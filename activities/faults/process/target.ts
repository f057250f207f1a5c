// Finding the process of a declared service: by its pid file, by a command-line
// pattern that must match exactly one process tree, or by a systemd unit's MainPID.
// Every answer carries the kernel start time, so a pid reused later is never taken
// for the service.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { procStartTime } from '../../../process-table/index.ts';
import { FaultPreconditionError } from '../backend.ts';
import type { ProcessServiceDecl } from '../../system/schema.ts';

export interface ServiceProcess {
  pid: number;
  starttime: string;
  /** How it was found, for details and errors ("pid file /x/y.pid", "unit acme.service"). */
  how: string;
}

/** `systemctl`, or a replacement for machines without systemd (ORDEAL_SYSTEMCTL). */
export const systemctl = (): string => process.env.ORDEAL_SYSTEMCTL ?? 'systemctl';

function cmdline(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
  } catch {
    return undefined;
  }
}

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

/** This process and its ancestors: never a target (a pattern that matches the worker's own command line). */
function selfAndAncestors(): Set<number> {
  const out = new Set<number>();
  for (let pid: number | undefined = process.pid; pid && pid > 1 && !out.has(pid); pid = parentOf(pid)) out.add(pid);
  return out;
}

/**
 * Reads a pid file: a pid on its first line (the usual; PostgreSQL's postmaster.pid
 * too), or the stack supervisor's JSON record { pid, starttime }.
 */
export function readServicePid(path: string): { pid: number; starttime?: string } | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
  const first = text.split('\n', 1)[0]!.trim();
  if (/^\d+$/.test(first)) return { pid: Number(first) };
  try {
    const rec = JSON.parse(text) as { pid?: unknown; starttime?: unknown };
    if (typeof rec.pid !== 'number' || !Number.isInteger(rec.pid)) return undefined;
    return { pid: rec.pid, ...(typeof rec.starttime === 'string' ? { starttime: rec.starttime } : {}) };
  } catch {
    return undefined;
  }
}

/** The roots of the process trees whose command line matches: a match under another match is part of its tree. */
export function matchingRoots(pattern: RegExp): { pid: number; cmdline: string }[] {
  const skip = selfAndAncestors();
  const matched = new Map<number, string>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (skip.has(pid) || procStartTime(pid) === undefined) continue;
    const line = cmdline(pid);
    if (line && pattern.test(line)) matched.set(pid, line);
  }
  const roots: { pid: number; cmdline: string }[] = [];
  for (const [pid, line] of matched) {
    let under = false;
    for (let p = parentOf(pid), depth = 0; p && p > 1 && depth < 64; p = parentOf(p), depth++) {
      if (matched.has(p)) { under = true; break; }
    }
    if (!under) roots.push({ pid, cmdline: line });
  }
  return roots.sort((a, b) => a.pid - b.pid);
}

function mainPid(unit: string): number {
  let out: string;
  try {
    out = execFileSync(systemctl(), ['show', '--property=MainPID', '--value', unit], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    const why = e.code === 'ENOENT' ? `${systemctl()} not found (no systemd on this host? set ORDEAL_SYSTEMCTL)` : (e.stderr?.trim() || e.message);
    throw new FaultPreconditionError(`cannot ask systemd about unit ${unit}: ${why}`);
  }
  const pid = Number(out.trim());
  if (!Number.isInteger(pid)) throw new FaultPreconditionError(`systemctl show ${unit} answered ${JSON.stringify(out.trim())} for MainPID`);
  return pid;
}

/**
 * The service's live process, or undefined when it is not running. Throws a
 * precondition error when the declaration cannot be answered (a pattern matching
 * several trees, systemd unreachable).
 */
export function findService(name: string, decl: ProcessServiceDecl): ServiceProcess | undefined {
  let pid: number | undefined;
  let recorded: string | undefined;
  let how: string;
  if (decl.pid_file !== undefined) {
    how = `pid file ${decl.pid_file}`;
    const rec = readServicePid(decl.pid_file);
    pid = rec?.pid;
    recorded = rec?.starttime;
  } else if (decl.match !== undefined) {
    let re: RegExp;
    try {
      re = new RegExp(decl.match);
    } catch (err) {
      throw new FaultPreconditionError(`services.${name}.match is not a valid regular expression: ${(err as Error).message}`);
    }
    const roots = matchingRoots(re);
    if (roots.length > 1) {
      throw new FaultPreconditionError(`services.${name}.match /${decl.match}/ matches ${roots.length} process trees, expected exactly one: ` +
        roots.slice(0, 10).map((r) => `pid ${r.pid} "${r.cmdline.slice(0, 120)}"`).join('; ') + (roots.length > 10 ? '; ...' : '') +
        '; make the pattern more specific');
    }
    how = `match /${decl.match}/`;
    pid = roots[0]?.pid;
  } else if (decl.systemd_unit !== undefined) {
    how = `systemd unit ${decl.systemd_unit}`;
    const main = mainPid(decl.systemd_unit);
    pid = main > 0 ? main : undefined;
  } else {
    throw new FaultPreconditionError(`services.${name} names none of pid_file, match, systemd_unit`);
  }
  if (pid === undefined) return undefined;
  const starttime = procStartTime(pid);
  if (starttime === undefined) return undefined;
  // A record with a start time: a later process that reused the pid is not the service.
  if (recorded !== undefined && recorded !== starttime) return undefined;
  if (selfAndAncestors().has(pid)) {
    throw new FaultPreconditionError(`services.${name} (${how}) is pid ${pid}, the fault worker itself or one of its parents; it cannot be faulted`);
  }
  return { pid, starttime, how };
}
