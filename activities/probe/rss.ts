// Memory of the system under test, for soak runs: the resident set of each named
// service (its whole process tree), read from /proc; the environment says which pid is whose.
import { readFileSync } from 'node:fs';
import { environment } from '../environment/index.ts';
import { processTree } from '../proc/index.ts';

function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0; // exited while we looked
  }
}

/** RSS per service; a service that is not running reports 0. */
export async function sampleRss(input: { services: string[] }): Promise<Record<string, number>> {
  const env = environment();
  const known = Object.keys(env.defaultSystem().services);
  const out: Record<string, number> = {};
  for (const name of input.services) {
    if (!known.includes(name)) throw new Error(`sampleRss: no service named ${name} in ${env.description} (known: ${known.join(', ')})`);
    const pid = env.pidOf?.(name);
    out[name] = pid === undefined ? 0 : processTree(pid).reduce((sum, p) => sum + rssBytes(p.pid), 0);
  }
  return out;
}

