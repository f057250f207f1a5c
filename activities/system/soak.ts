// Which services a soak samples between cycles, decided from the system file alone:
// the ones its `defaults.soak.services` names, else every process service it
// declares (never Ordeal's own). Pure and zod-free: the soak workflow calls it.
import { protectedComponents } from './protected.ts';
import type { SystemFile } from './schema.ts';

export function soakServicesOf(system: Pick<SystemFile, 'services' | 'defaults'>): string[] {
  const named = system.defaults?.soak?.services;
  if (named?.length) return [...named];
  return Object.entries(system.services).filter(([name, d]) => d.kind === 'process' && !protectedComponents[name]).map(([name]) => name);
}
