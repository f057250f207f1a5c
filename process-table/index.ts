// The process table, read from Linux's /proc: what the stack supervisor, the fault
// backends, the soak probe, the benchmarks and the tests need to know about a process
// (state, parent, CPU time, memory, start time, TCP sockets). The start time matters
// most: with the pid it names one process, so nothing is ever signalled because a
// later process reused a pid.
// No dependency on the stack or on activities: both sides import this.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** Clock ticks per second of /proc's CPU and start-time fields (USER_HZ, 100 on Linux). */
export const CLOCK_TICKS_PER_SECOND = 100;

/** The fields of /proc/<pid>/stat (stat(5)) that Ordeal reads. */
export interface ProcStat {
  pid: number;
  /** Field 3: R running, S sleeping, D disk wait, T stopped, Z zombie, X dead, ... */
  state: string;
  /** Field 4. */
  ppid: number;
  /** Fields 14 + 15, utime + stime: CPU time so far, in clock ticks. */
  cpuTicks: number;
  /** Field 22: clock ticks since boot when the process started (a string: it is compared, never computed with). */
  starttime: string;
}

/** Parses the one line of /proc/<pid>/stat; throws, quoting it, when it is not one. */
export function parseStat(text: string): ProcStat {
  // The command name (field 2) is in parentheses and may itself hold spaces and ')':
  // the fields after the last ')' are plain.
  const close = text.lastIndexOf(')');
  const f = close < 0 ? [] : text.slice(close + 2).split(' ');
  const pid = Number(text.slice(0, text.indexOf(' ')));
  if (f.length < 20 || !Number.isInteger(pid)) {
    throw new Error(`not a /proc/<pid>/stat line (expected "pid (comm) state ppid ..." with at least 22 fields): ${JSON.stringify(text.slice(0, 120))}`);
  }
  return { pid, state: f[0]!, ppid: Number(f[1]), cpuTicks: Number(f[11]) + Number(f[12]), starttime: f[19]! };
}

/** A process's stat, zombies included; undefined when there is no such pid. */
export function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // no such process, or it exited while we looked
  }
  return parseStat(text);
}

/** Exited but not yet reaped by its parent (Z), or being torn down (X): it runs no more. */
export const hasExited = (s: ProcStat): boolean => s.state === 'Z' || s.state === 'X';

/** The start time of a running process; undefined when it is gone or has exited. */
export function procStartTime(pid: number): string | undefined {
  const s = readStat(pid);
  return s && !hasExited(s) ? s.starttime : undefined;
}

/** Every pid in the table at this moment (some may be gone by the time they are read). */
export function pids(): number[] {
  return readdirSync('/proc').filter((e) => /^\d+$/.test(e)).map(Number);
}

/** Every running process (exited ones left out). */
export function runningProcesses(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const pid of pids()) {
    const s = readStat(pid);
    if (s && !hasExited(s)) out.push(s);
  }
  return out;
}

/** The process and all its running descendants, each with its start time (to survive pid reuse). */
export function processTree(root: number): ProcStat[] {
  const all = runningProcesses();
  const tree = all.filter((p) => p.pid === root);
  for (let i = 0; i < tree.length; i++) tree.push(...all.filter((p) => p.ppid === tree[i]!.pid));
  return tree;
}

/** CPU seconds (user + system) a process has used so far; throws when it is not there to measure. */
export function cpuSeconds(pid: number): number {
  const s = readStat(pid);
  if (!s) throw new Error(`process ${pid} is not running: no /proc/${pid}/stat to read its CPU time from`);
  return s.cpuTicks / CLOCK_TICKS_PER_SECOND;
}

/** Resident memory (VmRSS of /proc/<pid>/status) in bytes; undefined when the process is gone. */
export function rssBytes(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** The argument vector of /proc/<pid>/cmdline; undefined when the process is gone. */
export function commandLine(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return undefined;
  }
}

/** A TCP socket of a process, from /proc/<pid>/net/tcp (IPv4). */
export interface TcpSocket {
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  /** The kernel's state: ESTABLISHED, LISTEN, SYN_SENT, ... */
  state: string;
}

const TCP_STATES = ['', 'ESTABLISHED', 'SYN_SENT', 'SYN_RECV', 'FIN_WAIT1', 'FIN_WAIT2', 'TIME_WAIT', 'CLOSE', 'CLOSE_WAIT', 'LAST_ACK', 'LISTEN', 'CLOSING'];

/**
 * The IPv4 TCP sockets a process holds open: /proc/<pid>/net/tcp lists every socket of
 * its network namespace, so only those whose inode is one of the process's descriptors
 * count. Empty when the process is gone.
 */
export function tcpSockets(pid: number): TcpSocket[] {
  const inodes = new Set<string>();
  let table: string;
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) inodes.add(m[1]!);
      } catch { /* closed while we looked */ }
    }
    table = readFileSync(`/proc/${pid}/net/tcp`, 'utf8');
  } catch {
    return [];
  }
  const out: TcpSocket[] = [];
  for (const line of table.split('\n').slice(1)) {
    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || !inodes.has(f[9]!)) continue;
    const [, localPort] = f[1]!.split(':');
    const [remote, remotePort] = f[2]!.split(':');
    // The address is the 32-bit value in the kernel's (little-endian) byte order.
    const ip = [0, 1, 2, 3].map((i) => parseInt(remote!.slice(6 - 2 * i, 8 - 2 * i), 16)).join('.');
    out.push({ localPort: parseInt(localPort!, 16), remoteAddress: ip, remotePort: parseInt(remotePort!, 16), state: TCP_STATES[parseInt(f[3]!, 16)] ?? f[3]! });
  }
  return out;
}
