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
  /**
   * The whole HTTP/1.1 request as one string for the raw client (`host`: the Host
   * header): static text is merged at compile time, only ledger values are spliced in.
   * `asciiValues`: the caller vouches every substituted value is ASCII, so the body's
   * byte length is its string length (no scan per request).
   */
  wire(host: string, asciiValues?: boolean): (entry: LedgerEntry, runId: string, idempotencyKey: string) => string;
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

/** Digits after the decimal point of a currency's major unit (2 for usd, 0 for jpy, 3 for kwd), cached per code. */
const minorDigits = new Map<string, number>();
export function digitsOf(currency: string): number {
  let d = minorDigits.get(currency);
  if (d === undefined) {
    try {
      d = new Intl.NumberFormat('en', { style: 'currency', currency: currency.toUpperCase() }).resolvedOptions().maximumFractionDigits ?? 2;
    } catch {
      d = 2; // not an ISO code Intl knows: cents
    }
    minorDigits.set(currency, d);
  }
  return d;
}

/** Minor units → major units as an exact decimal string (integer arithmetic: no float rounding). */
export function majorUnits(minor: number, currency: string): string {
  const digits = digitsOf(currency);
  if (digits === 0) return String(minor);
  const sign = minor < 0 ? '-' : '';
  const text = String(Math.abs(minor)).padStart(digits + 1, '0');
  return `${sign}${text.slice(0, -digits)}.${text.slice(-digits)}`;
}

type Getter = (e: LedgerEntry, runId: string, key: string) => string;
const fieldGetter: Record<string, Getter> = {
  message_id: (e) => e.message_id,
  idempotency_key: (_e, _r, key) => key,
  amount_cents: (e) => String(e.amount_cents),
  amount_major: (e) => majorUnits(e.amount_cents, e.currency),
  currency: (e) => e.currency,
  currency_upper: (e) => e.currency.toUpperCase(),
  customer_id: (e) => e.customer_id,
  run_id: (_e, r) => r,
  seq: (e) => String(e.seq),
};

/** Compiled text: literal strings and getters, adjacent literals merged. */
type Part = string | Getter;

function push(parts: Part[], p: Part): void {
  const last = parts.length - 1;
  if (typeof p === 'string' && last >= 0 && typeof parts[last] === 'string') parts[last] = (parts[last] as string) + p;
  else if (p !== '') parts.push(p);
}

/** A string with placeholders → parts; `escape` applies to substituted values. */
function stringParts(s: string, escape: ((v: string) => string) | undefined, out: Part[] = []): Part[] {
  let last = 0;
  for (const m of s.matchAll(PLACEHOLDER)) {
    if (m.index > last) push(out, s.slice(last, m.index));
    const g = fieldGetter[m[1]!];
    if (!g) throw new Error(`request template references {{${m[1]}}}, which is not a ledger field (${templateFields.join(', ')})`);
    push(out, escape ? (e, r, k) => escape(g(e, r, k)) : g);
    last = m.index + m[0].length;
  }
  if (last < s.length) push(out, s.slice(last));
  return out;
}

function render(parts: Part[]): (e: LedgerEntry, r: string, k: string) => string {
  if (parts.length === 0) return () => '';
  if (parts.length === 1) { const p = parts[0]!; return typeof p === 'string' ? () => p : p; }
  return (e, r, k) => {
    let out = '';
    for (let i = 0; i < parts.length; i++) { const p = parts[i]!; out += typeof p === 'string' ? p : p(e, r, k); }
    return out;
  };
}

// Ledger values rarely need JSON escaping: test first, stringify only when they do.
const JSON_SPECIAL = /["\\\u0000-\u001f\ud800-\udfff]/;
const jsonInner = (x: string) => (JSON_SPECIAL.test(x) ? JSON.stringify(x).slice(1, -1) : x);

const numericFields = new Set(['amount_cents', 'seq']);

/**
 * JSON body → parts of its serialisation. A string value that is exactly one numeric
 * placeholder ("{{amount_cents}}") becomes a JSON number.
 */
function bodyParts(v: unknown, out: Part[] = []): Part[] {
  if (typeof v === 'string') {
    const whole = /^\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}$/.exec(v);
    if (whole && numericFields.has(whole[1]!)) { push(out, fieldGetter[whole[1]!]!); return out; }
    // Literal text is escaped once here; substituted values when rendered.
    push(out, '"');
    stringParts(JSON.stringify(v).slice(1, -1), jsonInner, out);
    push(out, '"');
  } else if (Array.isArray(v)) {
    push(out, '[');
    v.forEach((x, i) => { if (i) push(out, ','); bodyParts(x, out); });
    push(out, ']');
  } else if (v && typeof v === 'object') {
    push(out, '{');
    Object.entries(v).forEach(([key, x], i) => { push(out, (i ? ',' : '') + JSON.stringify(key) + ':'); bodyParts(x, out); });
    push(out, '}');
  } else push(out, JSON.stringify(v ?? null));
  return out;
}

const NON_ASCII = /[^\u0000-\u007f]/;

/** UTF-8 byte length without Node built-ins (this module stays pure). */
export function utf8Length(s: string): number {
  if (!NON_ASCII.test(s)) return s.length;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) { n += 4; i++; }
    else n += 3;
  }
  return n;
}

export function compileTemplate(t: RequestTemplate | undefined): CompiledTemplate {
  const tpl = t ?? defaultTemplate;
  const bad = unknownPlaceholders(tpl);
  if (bad.length) {
    throw new Error(`request template references unknown field(s): ${bad.map((b) => `{{${b.name}}} in ${b.where}`).join(', ')}; ` +
      `known: ${templateFields.join(', ')}`);
  }
  const pathParts = stringParts(tpl.path, encodeURIComponent);
  const path = render(pathParts);
  const headerParts = Object.entries(tpl.headers).map(([k, v]) => [k.toLowerCase(), stringParts(v, undefined)] as const);
  const headers = headerParts.map(([k, p]) => [k, render(p)] as const);
  // A template that names no body still sends the ledger fields (the documented default).
  const hasBody = tpl.method !== 'GET' && tpl.method !== 'DELETE';
  const bodyPartsOf = hasBody ? bodyParts(tpl.body === undefined ? defaultTemplate.body : tpl.body) : [];
  const body = hasBody ? render(bodyPartsOf) : undefined;
  const idPath = tpl.ack_id_field.split('.');
  return {
    method: tpl.method,
    build(entry, runId, key = entry.idempotency_key) {
      const h: Record<string, string> = {};
      for (const [k, f] of headers) h[k] = f(entry, runId, key);
      if (body) h['content-type'] = 'application/json';
      return { method: tpl.method, path: path(entry, runId, key), headers: h, body: body?.(entry, runId, key) };
    },
    wire(host, asciiValues = false) {
      // Everything but the body's length is one compiled text: request line, host, headers.
      const head: Part[] = [];
      push(head, `${tpl.method} `);
      for (const p of pathParts) push(head, p);
      push(head, ` HTTP/1.1\r\nhost: ${host}\r\n`);
      for (const [k, parts] of headerParts) { push(head, `${k}: `); for (const p of parts) push(head, p); push(head, '\r\n'); }
      if (!body) { push(head, '\r\n'); return render(head); }
      push(head, 'content-type: application/json\r\ncontent-length: ');
      const h = render(head);
      const literalsAscii = bodyPartsOf.every((p) => typeof p !== 'string' || !NON_ASCII.test(p));
      if (asciiValues && literalsAscii) return (e, r, k) => { const b = body(e, r, k); return h(e, r, k) + b.length + '\r\n\r\n' + b; };
      return (e, r, k) => { const b = body(e, r, k); return h(e, r, k) + utf8Length(b) + '\r\n\r\n' + b; };
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
