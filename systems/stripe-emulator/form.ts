// Stripe's wire format: application/x-www-form-urlencoded bodies and query strings
// with bracketed nesting (metadata[k]=v, expand[0]=x, created[gte]=1), as the
// official SDK writes them. Objects are kept as objects even when their keys are
// numeric (metadata may legitimately have key "0"); params that are lists are read
// with asList().
export type FormValue = string | FormObject;
export interface FormObject { [key: string]: FormValue }

const MAX_PAIRS = 2000;
const MAX_DEPTH = 6;

export class FormDecodeError extends Error {
  override name = 'FormDecodeError';
}

function decode(s: string): string {
  const plus = s.includes('+') ? s.replace(/\+/g, ' ') : s;
  if (!plus.includes('%')) return plus;
  try {
    return decodeURIComponent(plus);
  } catch {
    throw new FormDecodeError(`invalid percent-encoding in ${JSON.stringify(s.slice(0, 80))}`);
  }
}

/** The key's path: `a[b][0]` → ['a', 'b', '0']; `a[]` appends (→ next index). */
function keyPath(key: string): (string | null)[] {
  const open = key.indexOf('[');
  if (open <= 0) return [key];
  const path: (string | null)[] = [key.slice(0, open)];
  let i = open;
  while (i < key.length) {
    if (key[i] !== '[') throw new FormDecodeError(`malformed parameter name ${JSON.stringify(key)}`);
    const close = key.indexOf(']', i);
    if (close < 0) throw new FormDecodeError(`malformed parameter name ${JSON.stringify(key)}`);
    const seg = key.slice(i + 1, close);
    path.push(seg === '' ? null : seg);
    i = close + 1;
  }
  if (path.length > MAX_DEPTH) throw new FormDecodeError(`parameter ${JSON.stringify(key)} is nested too deeply`);
  return path;
}

export function parseForm(input: string): FormObject {
  const out: FormObject = Object.create(null) as FormObject;
  if (!input) return out;
  const pairs = input.split('&');
  if (pairs.length > MAX_PAIRS) throw new FormDecodeError(`too many parameters (${pairs.length} > ${MAX_PAIRS})`);
  for (const pair of pairs) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const rawKey = eq < 0 ? pair : pair.slice(0, eq);
    const value = eq < 0 ? '' : decode(pair.slice(eq + 1));
    const path = keyPath(decode(rawKey));
    let node: FormObject = out;
    for (let d = 0; d < path.length; d++) {
      const seg = path[d] ?? String(Object.keys(node).length);
      if (seg === '__proto__' || seg === 'constructor' || seg === 'prototype') {
        throw new FormDecodeError(`parameter name ${JSON.stringify(rawKey)} is not allowed`);
      }
      if (d === path.length - 1) {
        const existing = node[seg];
        if (existing !== undefined && typeof existing !== 'string') {
          throw new FormDecodeError(`parameter ${seg} is given both as a value and as a hash`);
        }
        node[seg] = value;
      } else {
        let next = node[seg];
        if (next === undefined) {
          next = Object.create(null) as FormObject;
          node[seg] = next;
        } else if (typeof next === 'string') {
          throw new FormDecodeError(`parameter ${seg} is given both as a value and as a hash`);
        }
        node = next;
      }
    }
  }
  return out;
}

/** A list param (`expand[0]=a&expand[1]=b`, or a single `expand=a`) as strings, in index order. */
export function asList(v: FormValue | undefined): FormValue[] | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'string') return v === '' ? [] : [v];
  const keys = Object.keys(v);
  if (!keys.every((k) => /^\d+$/.test(k))) return undefined;
  return keys.sort((a, b) => Number(a) - Number(b)).map((k) => v[k]!);
}

/** Canonical serialisation (sorted keys), for comparing the params of idempotent requests. */
export function canonical(v: FormValue): string {
  if (typeof v === 'string') return JSON.stringify(v);
  const keys = Object.keys(v).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(v[k]!)}`).join(',')}}`;
}
