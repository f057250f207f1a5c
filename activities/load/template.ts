// Requests are built from ledger entries by the scenario's template, so Ordeal can
// drive any API. Compiled once per shard into closures: the hot path only
// concatenates strings. Pure (no Node built-ins): settings validation uses it too.
import type { LedgerEntry } from '../ledger/types.ts';
import { templateFields, type RequestTemplate } from './types.ts';

export interface BuiltRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string | undefined;
}

export interface CompiledTemplate {
  build(entry: LedgerEntry, runId: string, idempotencyKey?: string): BuiltRequest;
  /** Reads the system's id from a JSON answer (undefined: field absent). */
  ackId(json: unknown): string | undefined;
  method: string;
}

export const defaultTemplate: RequestTemplate = {
  method: 'POST',
  path: '/payments',
  headers: { 'idempotency-key': '{{idempotency_key}}' },
  body: {
    message_id: '{{message_id}}',
    amount_cents: '{{amount_cents}}',
    currency: '{{currency}}',
    customer_id: '{{customer_id}}',
    test_run_id: '{{run_id}}',
  },
  ack_id_field: 'id',
};

const PLACEHOLDER = /\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g;

/** Every placeholder a template uses that names no ledger field, with where it is. */
export function unknownPlaceholders(t: RequestTemplate, extra: readonly string[] = []): { where: string; name: string }[] {
  const allowed = new Set<string>([...templateFields, ...extra]);
  const bad: { where: string; name: string }[] = [];
  const scan = (where: string, s: string) => {
    for (const m of s.matchAll(PLACEHOLDER)) if (!allowed.has(m[1]!)) bad.push({ where, name: m[1]! });
  };
  scan('path', t.path);
  for (const [k, v] of Object.entries(t.headers)) { scan(`headers.${k}`, k); scan(`headers.${k}`, v); }
  const walk = (where: string, v: unknown) => {
    if (typeof v === 'string') scan(where, v);
    else if (Array.isArray(v)) v.forEach((x, i) => walk(`${where}[${i}]`, x));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(`${where}.${k}`, x);
  };
  walk('body', t.body);
  return bad;
}

type Getter = (e: LedgerEntry, runId: string, key: string) => string;
const fieldGetter: Record<string, Getter> = {
  message_id: (e) => e.message_id,
  idempotency_key: (_e, _r, key) => key,
  amount_cents: (e) => String(e.amount_cents),
  currency: (e) => e.currency,
  customer_id: (e) => e.customer_id,
  run_id: (_e, r) => r,
  seq: (e) => String(e.seq),
};

/** A string with placeholders → a function of the entry. */
function compileString(s: string, escape: (v: string) => string): (e: LedgerEntry, r: string, k: string) => string {
  const parts: (string | Getter)[] = [];
  let last = 0;
  for (const m of s.matchAll(PLACEHOLDER)) {
    if (m.index > last) parts.push(s.slice(last, m.index));
    const g = fieldGetter[m[1]!];
    if (!g) throw new Error(`request template references {{${m[1]}}}, which is not a ledger field (${templateFields.join(', ')})`);
    parts.push((e, r, k) => escape(g(e, r, k)));
    last = m.index + m[0].length;
  }
  if (last < s.length) parts.push(s.slice(last));
  if (parts.length === 1 && typeof parts[0] === 'string') { const c = parts[0]; return () => c; }
  return (e, r, k) => {
    let out = '';
    for (const p of parts) out += typeof p === 'string' ? p : p(e, r, k);
    return out;
  };
}

const numericFields = new Set(['amount_cents', 'seq']);

/**
 * JSON body → a function producing the serialised body. A string value that is
 * exactly one numeric placeholder ("{{amount_cents}}") becomes a JSON number.
 */
function compileBody(v: unknown): (e: LedgerEntry, r: string, k: string) => string {
  if (typeof v === 'string') {
    const whole = /^\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}$/.exec(v);
    if (whole && numericFields.has(whole[1]!)) {
      const g = fieldGetter[whole[1]!]!;
      return g;
    }
    // Literal text is escaped once here; placeholders survive JSON.stringify unchanged.
    const f = compileString(JSON.stringify(v).slice(1, -1), (x) => JSON.stringify(x).slice(1, -1));
    return (e, r, k) => `"${f(e, r, k)}"`;
  }
  if (Array.isArray(v)) {
    const items = v.map(compileBody);
    return (e, r, k) => `[${items.map((f) => f(e, r, k)).join(',')}]`;
  }
  if (v && typeof v === 'object') {
    const fields = Object.entries(v).map(([key, x]) => [JSON.stringify(key), compileBody(x)] as const);
    return (e, r, k) => {
      let out = '{';
      for (let i = 0; i < fields.length; i++) {
        if (i) out += ',';
        out += fields[i]![0] + ':' + fields[i]![1](e, r, k);
      }
      return out + '}';
    };
  }
  const c = JSON.stringify(v ?? null);
  return () => c;
}

export function compileTemplate(t: RequestTemplate | undefined): CompiledTemplate {
  const tpl = t ?? defaultTemplate;
  const bad = unknownPlaceholders(tpl);
  if (bad.length) {
    throw new Error(`request template references unknown field(s): ${bad.map((b) => `{{${b.name}}} in ${b.where}`).join(', ')}; ` +
      `known: ${templateFields.join(', ')}`);
  }
  const path = compileString(tpl.path, encodeURIComponent);
  const headers = Object.entries(tpl.headers).map(([k, v]) => [k.toLowerCase(), compileString(v, (x) => x)] as const);
  // A template that names no body still sends the ledger fields (the documented default).
  const hasBody = tpl.method !== 'GET' && tpl.method !== 'DELETE';
  const body = hasBody ? compileBody(tpl.body === undefined ? defaultTemplate.body : tpl.body) : undefined;
  const idPath = tpl.ack_id_field.split('.');
  return {
    method: tpl.method,
    build(entry, runId, key = entry.idempotency_key) {
      const h: Record<string, string> = {};
      for (const [k, f] of headers) h[k] = f(entry, runId, key);
      if (body) h['content-type'] = 'application/json';
      return { method: tpl.method, path: path(entry, runId, key), headers: h, body: body?.(entry, runId, key) };
    },
    ackId(json) {
      let v: unknown = json;
      for (const p of idPath) {
        if (!v || typeof v !== 'object') return undefined;
        v = (v as Record<string, unknown>)[p];
      }
      return v === undefined || v === null ? undefined : String(v);
    },
  };
}
