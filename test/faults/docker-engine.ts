// A private Docker engine for the docker-backend tests: its own data root, exec root
// and socket (never the machine's), no bridge network and no iptables (containers use
// host networking on loopback), and a tiny image imported from busybox-static, since
// nothing can be pulled here. Ended by pid, its mounts undone.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Docker from 'dockerode';

export const IMAGE = 'ordeal-busybox:local';

export interface DockerEngine {
  socket: string;
  docker: Docker;
  stop(): Promise<void>;
}

export async function startDockerEngine(dir: string): Promise<DockerEngine> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const socket = join(dir, 'docker.sock');
  const log = openSync(join(dir, 'dockerd.log'), 'a');
  const child: ChildProcess = spawn('dockerd', [
    '--data-root', join(dir, 'data'), '--exec-root', join(dir, 'x'), '-H', `unix://${socket}`, '--pidfile', join(dir, 'dockerd.pid'),
    '--bridge=none', '--iptables=false', '--ip-masq=false', '--ip6tables=false',
  ], { stdio: ['ignore', log, log] });
  const docker = new Docker({ socketPath: socket });
  const stop = async () => {
    try {
      for (const c of await docker.listContainers({ all: true })) await docker.getContainer(c.Id).remove({ force: true }).catch(() => {});
    } catch { /* engine already gone */ }
    if (child.exitCode === null && child.pid) {
      child.kill('SIGTERM');
      for (let i = 0; i < 200 && child.exitCode === null; i++) await sleep(100);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    // dockerd leaves its network namespace (and any overlay) mounted under its roots.
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((m) => m.startsWith(dir + '/'));
    for (const m of mounts.sort((a, b) => b.length - a.length)) spawnSync('umount', ['-l', m]);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; ; i++) {
      if (child.exitCode !== null) throw new Error(`dockerd exited with ${child.exitCode}: ${readFileSync(join(dir, 'dockerd.log'), 'utf8').slice(-2000)}`);
      try {
        await docker.ping();
        break;
      } catch {
        if (i > 300) throw new Error('dockerd did not answer within 30 s');
        await sleep(100);
      }
    }
    await importBusybox(docker, dir);
  } catch (err) {
    await stop();
    throw err;
  }
  return { socket, docker, stop };
}

async function importBusybox(docker: Docker, dir: string): Promise<void> {
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find(existsSync);
  if (!busybox) throw new Error('busybox-static is not installed (scripts/bootstrap installs it)');
  const rootfs = join(dir, 'rootfs');
  mkdirSync(join(rootfs, 'bin'), { recursive: true });
  mkdirSync(join(rootfs, 'www'), { recursive: true });
  copyFileSync(busybox, join(rootfs, 'bin', 'busybox'));
  chmodSync(join(rootfs, 'bin', 'busybox'), 0o755);
  for (const applet of ['sh', 'sleep', 'httpd']) symlinkSync('busybox', join(rootfs, 'bin', applet));
  const tar = spawn('tar', ['-C', rootfs, '-c', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [repo, tag] = IMAGE.split(':');
  const stream = await docker.importImage(tar.stdout as unknown as string, { repo, tag });
  await new Promise<void>((resolve, reject) => docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve())));
}
