// The `host` backend: resource faults on this machine. CPU and memory pressure are
// bounded hog processes we start and end by pid (they also end themselves at the
// lease's end); disk_full fills a size-limited tmpfs volume owned by the stack, so it
// can never fill the machine's real disk.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, statfsSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
/** Where this machine keeps fault state (the embedded stack: its home). */
type StateDir = { home: string };
import { FaultPreconditionError, paramProblems, type FaultBackend, type Observation, type RevertData } from '../backend.ts';
import type { FaultHandle } from '../types.ts';
import { CLOCK_TICKS_PER_SECOND, commandLine, hasExited, pids, readStat, rssBytes } from '../../../process-table/index.ts';

const hogScript = join(dirname(fileURLToPath(import.meta.url)), 'hog.ts');
const HOG_MARKER = 'ordeal-fault-hog';
const maxMemoryMb = Math.floor(totalmem() / 1024 / 1024 / 2);
const maxWorkers = cpus().length * 4;
/** The hog outlives its lease by this much at most, so a late revert still finds it. */
const HOG_MARGIN_MS = 60_000;

interface Hog { pid: number; starttime: string }

function hogsOf(faultId: string): Hog[] {
  const out: Hog[] = [];
  for (const pid of pids()) {
    const argv = commandLine(pid) ?? [];
    const i = argv.indexOf(HOG_MARKER);
    if (i < 0 || argv[i + 1] !== faultId) continue;
    const stat = readStat(pid);
    if (stat && !hasExited(stat)) out.push({ pid, starttime: stat.starttime });
  }
  return out;
}

function cpuTicks(pid: number): number | undefined {
  return readStat(pid)?.cpuTicks;
}

function rssMb(pid: number): number | undefined {
  const bytes = rssBytes(pid);
  return bytes === undefined ? undefined : bytes / 1024 / 1024;
}

// --- disk volumes ---------------------------------------------------------------

const volumeName = /^[a-z0-9][a-z0-9_-]{0,40}$/;

/** Where the stack's fault volume `name` is mounted: services that want disk_full tests write here. */
export function faultVolumePath(config: StateDir, name: string): string {
  if (!volumeName.test(name)) throw new FaultPreconditionError(`fault volume name "${name}" must match ${volumeName}`);
  return join(config.home, 'volumes', name);
}

function mountOf(path: string): { fstype: string } | undefined {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-');
    if (f[4] === path && sep > 0) return { fstype: f[sep + 1] ?? '' };
  }
  return undefined;
}

/** Mounts a size-limited tmpfs for the volume (idempotent); returns its path. */
export function ensureFaultVolume(config: StateDir, name: string, sizeMb = 64): string {
  const path = faultVolumePath(config, name);
  const mounted = mountOf(path);
  if (mounted) {
    if (mounted.fstype !== 'tmpfs') throw new FaultPreconditionError(`${path} is a ${mounted.fstype} mount, not the stack's tmpfs volume; refusing to fill it`);
    return path;
  }
  mkdirSync(path, { recursive: true });
  if (readdirSync(path).length > 0) {
    throw new FaultPreconditionError(`${path} holds files but is not a mounted volume; mounting a tmpfs over it would hide them`);
  }
  const res = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m,mode=0777`, `ordeal-${name}`, path], { encoding: 'utf8' });
  if (res.status !== 0) {
    throw new FaultPreconditionError(`cannot mount a ${sizeMb} MB tmpfs at ${path} for disk_full (needs root): ${res.stderr || res.error?.message}`);
  }
  return path;
}

/** Unmounts and removes a fault volume (its data is lost). */
export function removeFaultVolume(config: StateDir, name: string): void {
  const path = faultVolumePath(config, name);
  if (mountOf(path)) {
    const res = spawnSync('umount', [path], { encoding: 'utf8' });
    if (res.status !== 0) throw new Error(`umount ${path} failed: ${res.stderr}`);
  }
  if (existsSync(path)) rmdirSync(path);
}

function fillFile(path: string): number {
  const fd = openSync(path, 'w');
  let written = 0;
  try {
    for (const size of [1 << 20, 1 << 12]) {
      const buf = Buffer.alloc(size, 0x5a);
      for (;;) {
        try { written += writeSync(fd, buf); } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw err;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return written;
}

function writeProbe(dir: string): 'ENOSPC' | 'ok' | string {
  const probe = join(dir, `.ordeal-probe-${process.pid}`);
  try {
    writeFileSync(probe, Buffer.alloc(8192, 1));
    return 'ok';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? String(err);
  } finally {
    try { unlinkSync(probe); } catch { /* never created */ }
  }
}

// --- the backend --------------------------------------------------------------------

export function hostBackend(): FaultBackend {
  return {
    name: 'host',
    types: ['disk_full', 'memory_pressure', 'cpu_spike'],

    check(spec) {
      if (spec.type === 'disk_full') {
        const problems = volumeName.test(spec.target) ? [] : [`disk_full target "${spec.target}" must be a fault volume name matching ${volumeName} (mounted at <home>/volumes/<name>)`];
        return [...problems, ...paramProblems(spec, { size_mb: [1, 4096] })];
      }
      const problems = spec.target === 'host' ? [] : [`unknown target "${spec.target}" for ${spec.type}: the host backend's only target is "host"`];
      return [...problems, ...paramProblems(spec, spec.type === 'cpu_spike' ? { workers: [1, maxWorkers] } : { mb: [16, maxMemoryMb] })];
    },

    async plan(spec, faultId, ctx, leaseExpiresAt): Promise<RevertData> {
      if (spec.type === 'disk_full') {
        const size = spec.params.size_mb === undefined ? 64 : Number(spec.params.size_mb);
        return { kind: 'disk', path: faultVolumePath({ home: ctx.env.stateDir }, spec.target), sizeMb: size, filler: `.ordeal-fill-${faultId}` };
      }
      const amount = spec.type === 'cpu_spike' ? Number(spec.params.workers ?? cpus().length) : Number(spec.params.mb ?? 512);
      return { kind: spec.type === 'cpu_spike' ? 'cpu' : 'memory', amount, deadline: leaseExpiresAt.getTime() + HOG_MARGIN_MS };
    },

    async inject(handle, _spec, ctx): Promise<RevertData> {
      const r = handle.revert;
      if (r.kind === 'disk') {
        const wasMounted = mountOf(String(r.path)) !== undefined;
        const dir = ensureFaultVolume({ home: ctx.env.stateDir }, handle.target, Number(r.sizeMb));
        const bytes = fillFile(join(dir, String(r.filler)));
        return { filledBytes: bytes, mountedByFault: !wasMounted };
      }
      const child = spawn(process.execPath, [hogScript, HOG_MARKER, handle.faultId, String(r.kind), String(r.amount), String(r.deadline)],
        { detached: true, stdio: 'ignore' });
      child.unref();
      if (child.pid === undefined) throw new Error(`could not start the ${String(r.kind)} hog (${process.execPath} ${hogScript})`);
      // Return only once the pressure is real: memory resident, cpu threads spinning.
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        if (hogsOf(handle.faultId).length === 0 && child.exitCode !== null) throw new Error(`the ${String(r.kind)} hog exited at once (code ${child.exitCode})`);
        if (r.kind === 'memory' ? (rssMb(child.pid) ?? 0) >= Number(r.amount) * 0.9 : (cpuTicks(child.pid) ?? 0) > 0) {
          return { pid: child.pid };
        }
        await sleep(100);
      }
      return { pid: child.pid };
    },

    async revert(handle, ctx) {
      const r = handle.revert;
      if (r.kind === 'disk') {
        const dir = faultVolumePath({ home: ctx.env.stateDir }, handle.target);
        const path = join(dir, String(r.filler));
        let result;
        try {
          unlinkSync(path);
          result = { alreadyReverted: false, detail: `removed ${path}` };
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
          result = { alreadyReverted: true, detail: `${path} already gone` };
        }
        // A volume this fault created, and nobody wrote to, goes away with it.
        if (r.mountedByFault === true && mountOf(dir) && readdirSync(dir).length === 0) removeFaultVolume({ home: ctx.env.stateDir }, handle.target);
        return result;
      }
      const hogs = hogsOf(handle.faultId);
      for (const h of hogs) { try { process.kill(h.pid, 'SIGKILL'); } catch { /* exited */ } }
      for (let i = 0; i < 50 && hogsOf(handle.faultId).length > 0; i++) await sleep(100);
      return hogs.length
        ? { alreadyReverted: false, detail: `ended ${String(r.kind)} hog pid ${hogs.map((h) => h.pid).join(', ')}` }
        : { alreadyReverted: true, detail: `no ${String(r.kind)} hog of this fault is running` };
    },

    async evidence(handle: FaultHandle, ctx): Promise<Observation[]> {
      const r = handle.revert;
      if (r.kind === 'disk') {
        const dir = faultVolumePath({ home: ctx.env.stateDir }, handle.target);
        if (!mountOf(dir)) return [{ ok: false, description: `volume ${dir} is not mounted` }];
        const fs = statfsSync(dir);
        const avail = fs.bavail * fs.bsize;
        const probe = writeProbe(dir);
        return [
          { ok: avail < 64 * 1024, description: `volume ${dir}: ${avail} bytes available of ${fs.blocks * fs.bsize}` },
          { ok: probe === 'ENOSPC', description: `writing 8 KiB to ${dir}: ${probe}` },
        ];
      }
      const hogs = hogsOf(handle.faultId);
      if (hogs.length === 0) return [{ ok: false, description: `no ${String(r.kind)} hog of fault ${handle.faultId} is running` }];
      const pid = hogs[0]!.pid;
      if (r.kind === 'memory') {
        const rss = rssMb(pid) ?? 0;
        return [{ ok: rss >= Number(r.amount) * 0.9, description: `memory hog pid ${pid} holds ${rss.toFixed(0)} MB resident (target ${String(r.amount)} MB)` }];
      }
      const before = cpuTicks(pid) ?? 0;
      await sleep(500);
      const cores = ((cpuTicks(pid) ?? 0) - before) / CLOCK_TICKS_PER_SECOND / 0.5;
      // On a shared machine the hog competes with everything else: any sustained burn is proof.
      return [{ ok: cores >= 0.2, description: `cpu hog pid ${pid} (${String(r.amount)} threads) burning ${cores.toFixed(2)} cores` }];
    },
  };
}
