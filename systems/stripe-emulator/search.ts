// Stripe's search query language, for the PaymentIntent fields it supports:
//   metadata['key']:'value'   status:'succeeded'   currency:'usd'   customer:'cus_1'
//   amount>1000   created>=1700000000   -status:'canceled'   field~'substr'
// clauses joined by AND or by OR (not mixed, at most 10), as Stripe requires.
import { invalidRequest } from './errors.ts';
import type { PaymentIntent } from './objects.ts';

export type Operator = ':' | '~' | '>' | '>=' | '<' | '<=';

export interface Clause {
  negated: boolean;
  field: 'amount' | 'created' | 'currency' | 'customer' | 'metadata' | 'status';
  metadataKey?: string;
  op: Operator;
  value: string | number | null;
}

export interface SearchQuery {
  clauses: Clause[];
  joiner: 'AND' | 'OR';
}

const FIELDS = new Set(['amount', 'created', 'currency', 'customer', 'metadata', 'status']);
const NUMERIC = new Set(['amount', 'created']);

const bad = (query: string, why: string) =>
  invalidRequest(`Invalid query: ${why}. Query: ${query}`, { param: 'query', code: 'parameter_invalid' });

export function parseSearchQuery(query: string): SearchQuery {
  const clauses: Clause[] = [];
  const joiners = new Set<'AND' | 'OR'>();
  let i = 0;
  const n = query.length;
  const skipSpace = () => { while (i < n && /\s/.test(query[i]!)) i++; };
  const quoted = (): string => {
    const q = query[i]!;
    i++;
    let s = '';
    while (i < n && query[i] !== q) {
      if (query[i] === '\\' && i + 1 < n) i++;
      s += query[i];
      i++;
    }
    if (i >= n) throw bad(query, `unterminated string starting with ${q}`);
    i++;
    return s;
  };
  skipSpace();
  if (i >= n) throw bad(query, 'empty query');
  while (i < n) {
    let negated = false;
    if (query[i] === '-') { negated = true; i++; }
    const fieldMatch = /^[a-z_]+/.exec(query.slice(i));
    if (!fieldMatch) throw bad(query, `expected a field name at position ${i}`);
    const field = fieldMatch[0];
    i += field.length;
    if (!FIELDS.has(field)) throw bad(query, `field ${field} is not supported for payment_intents (supported: ${[...FIELDS].join(', ')})`);
    let metadataKey: string | undefined;
    if (field === 'metadata') {
      if (query[i] !== '[') throw bad(query, "metadata needs a key: metadata['key']");
      i++;
      if (query[i] !== '"' && query[i] !== "'") throw bad(query, 'metadata key must be quoted');
      metadataKey = quoted();
      if (query[i] !== ']') throw bad(query, "expected ] after the metadata key");
      i++;
    }
    const opMatch = /^(>=|<=|:|~|>|<)/.exec(query.slice(i));
    if (!opMatch) throw bad(query, `expected an operator (: ~ > >= < <=) after ${field}`);
    const op = opMatch[0] as Operator;
    i += op.length;
    let value: string | number | null;
    if (query[i] === '"' || query[i] === "'") {
      value = quoted();
    } else {
      const m = /^[^\s]+/.exec(query.slice(i));
      if (!m) throw bad(query, `expected a value after ${field}${op}`);
      i += m[0].length;
      if (m[0] === 'null') value = null;
      else if (/^-?\d+(\.\d+)?$/.test(m[0])) value = Number(m[0]);
      else throw bad(query, `string values must be quoted (${m[0]})`);
    }
    const numericOp = op === '>' || op === '>=' || op === '<' || op === '<=';
    if (numericOp && !NUMERIC.has(field)) throw bad(query, `${field} does not support ${op}`);
    if (NUMERIC.has(field) && value !== null) {
      const v = typeof value === 'number' ? value : Number(value);
      if (!Number.isFinite(v)) throw bad(query, `${field} needs a number`);
      value = v;
      if (op === '~') throw bad(query, `${field} does not support ~`);
    }
    if (!NUMERIC.has(field) && typeof value === 'number') value = String(value);
    if (op === '~' && (typeof value !== 'string' || value.length < 3)) throw bad(query, '~ needs a string of at least 3 characters');
    const clause: Clause = { negated, field: field as Clause['field'], op, value };
    if (metadataKey !== undefined) clause.metadataKey = metadataKey;
    clauses.push(clause);
    skipSpace();
    if (i >= n) break;
    const j = /^(AND|OR)\s+/i.exec(query.slice(i));
    if (!j) throw bad(query, `expected AND or OR at position ${i}`);
    joiners.add(j[1]!.toUpperCase() as 'AND' | 'OR');
    i += j[0].length;
    skipSpace();
    if (i >= n) throw bad(query, 'query ends after a conjunction');
  }
  if (joiners.size > 1) throw bad(query, 'AND and OR cannot be mixed in one query');
  if (clauses.length > 10) throw bad(query, 'at most 10 clauses are allowed');
  return { clauses, joiner: joiners.has('OR') ? 'OR' : 'AND' };
}

function fieldValue(pi: PaymentIntent, c: Clause): string | number | null {
  switch (c.field) {
    case 'metadata': return pi.metadata[c.metadataKey!] ?? null;
    case 'amount': return pi.amount;
    case 'created': return pi.created;
    case 'currency': return pi.currency;
    case 'customer': return pi.customer;
    case 'status': return pi.status;
  }
}

function clauseMatches(pi: PaymentIntent, c: Clause): boolean {
  const actual = fieldValue(pi, c);
  let m: boolean;
  if (c.value === null) m = c.op === ':' && actual === null;
  else if (actual === null) m = false;
  else {
    switch (c.op) {
      case ':': m = typeof c.value === 'number' ? actual === c.value : String(actual) === c.value; break;
      case '~': m = String(actual).includes(String(c.value)); break;
      case '>': m = (actual as number) > (c.value as number); break;
      case '>=': m = (actual as number) >= (c.value as number); break;
      case '<': m = (actual as number) < (c.value as number); break;
      case '<=': m = (actual as number) <= (c.value as number); break;
    }
  }
  return c.negated ? !m : m;
}

export function matches(pi: PaymentIntent, q: SearchQuery): boolean {
  return q.joiner === 'AND' ? q.clauses.every((c) => clauseMatches(pi, c)) : q.clauses.some((c) => clauseMatches(pi, c));
}

/** A clause the metadata index can answer: every match must satisfy it. */
export function indexableClause(q: SearchQuery): Clause | undefined {
  if (q.joiner === 'OR' && q.clauses.length > 1) return undefined;
  return q.clauses.find((c) => c.field === 'metadata' && !c.negated && c.op === ':' && typeof c.value === 'string');
}
