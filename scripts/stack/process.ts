// Starting and stopping the stack's processes. Every process we start gets a pid
// file holding its pid and kernel start time, so that `down` ends exactly the
// processes this supervisor started — never a later process that reused the pid.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { processTree, procStartTime, type ProcStat } from '../../process-table/index.ts';

// Callers that know the supervisor find the process table here too.
export { processTree, procStartTime };

export interface LaunchSpec {
  file: string;
  args: string[];
  env?: Record<string, string>;
  cwd?: string;
  uid?: number;
  gid?: number;
}

export interface PidRecord {
  pid: number;
  /** Field 22 of /proc/<pid>/stat: clock ticks since boot when the process started. */
  starttime: string;
  command: string;
  startedAt: string;
  /** Seeded defects the process was started with (services that carry defects only). */
  defects?: string[];
}

export function readPidFile(path: string): PidRecord | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as PidRecord;
  } catch {
    return undefined;
  }
}

/** True when the pid file names a process that is still the one we started. */
export function isOurProcessAlive(rec: PidRecord | undefined): boolean {
  return rec !== undefined && procStartTime(rec.pid) === rec.starttime;
}

/**
 * Starts a process in its own process group, detached from the caller, so that the
 * stack outlives the CLI invocation that started it; its output goes to logFile.
 */
export function launch(spec: LaunchSpec, logFile: string, pidFile: string, extra: Pick<PidRecord, 'defects'> = {}): PidRecord {
  mkdirSync(dirname(logFile), { recursive: true });
  mkdirSync(dirname(pidFile), { recursive: true });
  const fd = openSync(logFile, 'a');
  try {
    const child = spawn(spec.file, spec.args, {
      cwd: spec.cwd,
      env: { ...process.env, ...spec.env },
      detached: true,
      stdio: ['ignore', fd, fd],
      uid: spec.uid,
      gid: spec.gid,
    });
    if (child.pid === undefined) throw new Error(`could not start ${spec.file}`);
    child.unref();
    const rec: PidRecord = {
      pid: child.pid,
      starttime: procStartTime(child.pid) ?? '',
      command: [spec.file, ...spec.args].join(' '),
      startedAt: new Date().toISOString(),
      ...extra,
    };
    writeFileSync(pidFile, JSON.stringify(rec));
    return rec;
  } finally {
    closeSync(fd);
  }
}

/**
 * Ends a process we started and every process it started: the signal to its
 * process group first, SIGKILL to whatever of the tree is left after the grace
 * period. PostgreSQL's backends make themselves group leaders, so the tree is
 * found by parent pid, not by group.
 */
export async function terminate(rec: PidRecord, signal: NodeJS.Signals, graceMs: number): Promise<'stopped' | 'killed' | 'gone'> {
  if (!isOurProcessAlive(rec)) return 'gone';
  const tree = processTree(rec.pid);
  signalGroup(rec.pid, signal);
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (liveOf(tree).length === 0) return 'stopped';
    await sleep(100);
  }
  for (const p of liveOf(tree)) {
    try { process.kill(p.pid, 'SIGKILL'); } catch { /* exited meanwhile */ }
  }
  for (let i = 0; i < 50 && liveOf(tree).length > 0; i++) await sleep(100);
  return 'killed';
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    try { process.kill(pgid, signal); } catch { /* already gone */ }
  }
}

function liveOf(tree: ProcStat[]): ProcStat[] {
  return tree.filter((p) => procStartTime(p.pid) === p.starttime);
}

export function removePidFile(path: string): void {
  rmSync(path, { force: true });
}

/** Last lines of a log file, for errors that say why a service did not come up. */
export function tail(path: string, lines = 15): string {
  if (!existsSync(path)) return '(no log)';
  const text = readFileSync(path, 'utf8').trimEnd().split('\n');
  return text.slice(-lines).join('\n');
}
