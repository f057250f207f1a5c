// Placeholders a scenario may use so that one scenario runs against a laptop and a
// staging system alike: ${services.<name>.url}, ${proxies.<name>.listen},
// ${system.<key>} (the system file's defaults.placeholders), plus whatever the
// environment adds (the embedded stack adds ${ports.<name>}).
import type { SystemFile } from './schema.ts';

/** Every placeholder a system defines, keyed by its dotted name ("services.acme.url"). */
export function systemPlaceholders(system: SystemFile): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, decl] of Object.entries(system.services)) if (decl.url !== undefined) out[`services.${name}.url`] = decl.url;
  for (const [name, p] of Object.entries(system.proxies)) {
    out[`proxies.${name}.listen`] = p.listen;
    out[`proxies.${name}.upstream`] = p.upstream;
  }
  for (const [key, value] of Object.entries(system.defaults?.placeholders ?? {})) out[`system.${key}`] = value;
  return out;
}

const PLACEHOLDER = /\$\{((?:ports|services|proxies|system)(?:\.[a-z0-9_-]+)+)\}/g;

/**
 * Replaces ${a.b.c} in every string of `value` from `known`; an unknown placeholder
 * is reported at the string's path and left as written, so every problem shows at once.
 */
export function substitute(value: unknown, known: Record<string, string>, path: string[], problems: { path: string; message: string }[]): unknown {
  if (typeof value === 'string') {
    return value.replace(PLACEHOLDER, (whole, key: string) => {
      const found = known[key];
      if (found !== undefined) return found;
      const ns = key.slice(0, key.indexOf('.'));
      const same = Object.keys(known).filter((k) => k.startsWith(`${ns}.`)).map((k) => `\${${k}}`);
      problems.push({ path: path.join('.'), message: `unknown placeholder ${whole} (${same.length ? `known: ${same.join(', ')}` : `this system defines no ${ns}.* placeholders`})` });
      return whole;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => substitute(v, known, [...path, String(i)], problems));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, known, [...path, k], problems)]));
  }
  return value;
}
