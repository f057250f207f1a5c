// The kernel's process table, read from /proc: a process's start time (to tell a
// process from a later one that reused its pid), its descendants, and the pid
// records the stack supervisor writes. Read-only.
import { existsSync, readdirSync, readFileSync } from 'node:fs';

export interface PidRecord {
  pid: number;
  /** Field 22 of /proc/<pid>/stat: clock ticks since boot when the process started. */
  starttime: string;
  command: string;
  startedAt: string;
  /** Seeded defects the process was started with (services that carry defects only). */
  defects?: string[];
}

export function procStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses; fields after it are plain.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (rest[0] === 'Z' || rest[0] === 'X') return undefined; // exited, not yet reaped
    return rest[19];
  } catch {
    return undefined;
  }
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

export interface ProcEntry { pid: number; ppid: number; starttime: string }

function allProcesses(): ProcEntry[] {
  const out: ProcEntry[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (f[0] === 'Z' || f[0] === 'X') continue;
      out.push({ pid: Number(entry), ppid: Number(f[1]), starttime: f[19] ?? '' });
    } catch {
      /* exited while we looked */
    }
  }
  return out;
}

/** The process and all its live descendants, each with its start time (to survive pid reuse). */
export function processTree(root: number): ProcEntry[] {
  const all = allProcesses();
  const tree = all.filter((p) => p.pid === root);
  for (let i = 0; i < tree.length; i++) tree.push(...all.filter((p) => p.ppid === tree[i]!.pid));
  return tree;
}

