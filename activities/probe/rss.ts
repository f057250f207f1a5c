// Memory of the system under test, for soak runs: the resident set of each named
// service of the system (its whole process tree), read from /proc; the system file
// says how to find each service's process.
import { environment } from '../environment/index.ts';
import { locateService } from '../faults/process/index.ts';
import { processTree, rssBytes } from '../../process-table/index.ts';
import type { SystemFile } from '../system/schema.ts';

/** RSS per service; a service that is not running reports 0. */
export async function sampleRss(input: { services: string[]; system?: SystemFile }): Promise<Record<string, number>> {
  const system = input.system ?? environment().defaultSystem();
  const out: Record<string, number> = {};
  for (const name of input.services) {
    const decl = system.services[name];
    if (decl?.kind !== 'process') {
      const known = Object.entries(system.services).filter(([, d]) => d.kind === 'process').map(([n]) => n);
      throw new Error(`sampleRss: system ${system.name} declares no process service ${name} (known: ${known.join(', ')})`);
    }
    const found = locateService(name, decl);
    out[name] = 'problem' in found ? 0 : processTree(found.pid).reduce((sum, p) => sum + (rssBytes(p.pid) ?? 0), 0);
  }
  return out;
}
