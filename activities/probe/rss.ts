// Memory of the system under test, for soak runs: the resident set of each named
// stack service (its whole process tree), read from /proc.
import { loadStackConfig } from '../../scripts/stack/config.ts';
import { stackServices } from '../../scripts/stack/services/index.ts';
import { stackProcessIds } from '../../scripts/stack/supervisor.ts';
import { rssBytes } from '../../process-table/index.ts';

/** RSS per service; a service that is not running reports 0. */
export async function sampleRss(input: { services: string[] }): Promise<Record<string, number>> {
  const config = loadStackConfig();
  const out: Record<string, number> = {};
  for (const name of input.services) {
    const spec = stackServices.filter((s) => s.name === name);
    if (spec.length === 0) throw new Error(`sampleRss: no stack service named ${name} (known: ${stackServices.map((s) => s.name).join(', ')})`);
    out[name] = stackProcessIds(config, spec).reduce((sum, pid) => sum + (rssBytes(pid) ?? 0), 0);
  }
  return out;
}

