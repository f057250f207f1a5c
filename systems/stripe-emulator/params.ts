// Reading and validating request params the way Stripe reports problems: the first
// problem wins, named by its param, with Stripe's codes.
import { invalidParam, invalidRequest, missingParam, unknownParam } from './errors.ts';
import { asList, type FormObject, type FormValue } from './form.ts';

export class Params {
  readonly raw: FormObject;

  constructor(raw: FormObject, allowed: readonly string[]) {
    this.raw = raw;
    for (const key of Object.keys(raw)) {
      if (!allowed.includes(key)) throw unknownParam(key);
    }
  }

  has(name: string): boolean {
    return this.raw[name] !== undefined;
  }

  str(name: string, opts: { required?: boolean; max?: number; pattern?: RegExp } = {}): string | undefined {
    const v = this.raw[name];
    if (v === undefined || v === '') {
      if (opts.required) throw missingParam(name);
      return undefined;
    }
    if (typeof v !== 'string') throw invalidParam(name, `Invalid string: {...}`);
    if (opts.max !== undefined && v.length > opts.max) {
      throw invalidParam(name, `Invalid string: ${v.slice(0, 30)}...; must be at most ${opts.max} characters`);
    }
    if (opts.pattern && !opts.pattern.test(v)) throw invalidParam(name, `Invalid ${name}: ${JSON.stringify(v.slice(0, 60))}`, 'parameter_invalid');
    return v;
  }

  int(name: string, opts: { required?: boolean; min?: number; max?: number } = {}): number | undefined {
    const v = this.raw[name];
    if (v === undefined || v === '') {
      if (opts.required) throw missingParam(name);
      return undefined;
    }
    if (typeof v !== 'string' || !/^-?\d+$/.test(v)) {
      throw invalidParam(name, `Invalid integer: ${typeof v === 'string' ? v : '{...}'}`, 'parameter_invalid_integer');
    }
    const n = Number(v);
    if (!Number.isSafeInteger(n)) throw invalidParam(name, `Invalid integer: ${v}`, 'parameter_invalid_integer');
    if (opts.min !== undefined && n < opts.min) {
      throw invalidParam(name, `This value must be greater than or equal to ${opts.min}.`, 'parameter_invalid_integer');
    }
    if (opts.max !== undefined && n > opts.max) {
      throw invalidParam(name, `This value must be less than or equal to ${opts.max}.`, 'parameter_invalid_integer');
    }
    return n;
  }

  bool(name: string): boolean | undefined {
    const v = this.raw[name];
    if (v === undefined || v === '') return undefined;
    if (v === 'true') return true;
    if (v === 'false') return false;
    throw invalidParam(name, `Invalid boolean: ${typeof v === 'string' ? v : '{...}'}`, 'parameter_invalid_boolean');
  }

  oneOf<T extends string>(name: string, values: readonly T[]): T | undefined {
    const v = this.str(name);
    if (v === undefined) return undefined;
    if (!values.includes(v as T)) {
      throw invalidRequest(`Invalid ${name}: must be one of ${values.join(', ')}`, { param: name, code: 'parameter_invalid' });
    }
    return v as T;
  }

  list(name: string): string[] | undefined {
    const v = this.raw[name];
    if (v === undefined) return undefined;
    const l = asList(v);
    if (!l || !l.every((x): x is string => typeof x === 'string')) {
      throw invalidRequest(`Invalid array`, { param: name, code: 'parameter_invalid' });
    }
    return l;
  }

  hash(name: string): FormObject | undefined {
    const v = this.raw[name];
    if (v === undefined || v === '') return undefined;
    if (typeof v === 'string') throw invalidRequest(`Invalid object`, { param: name, code: 'parameter_invalid' });
    return v;
  }

  /** Stripe's metadata rules: at most 50 keys, key <= 40 chars without brackets, value <= 500 chars. */
  metadata(name = 'metadata'): Record<string, string> | undefined {
    const v = this.raw[name];
    if (v === undefined) return undefined;
    if (v === '') return {};
    if (typeof v === 'string') throw invalidRequest(`Invalid object`, { param: name, code: 'parameter_invalid' });
    const out: Record<string, string> = {};
    const keys = Object.keys(v);
    if (keys.length > 50) throw invalidRequest('Metadata can have at most 50 keys.', { param: name, code: 'parameter_invalid' });
    for (const k of keys) {
      const val: FormValue = v[k]!;
      if (typeof val !== 'string') throw invalidRequest(`Invalid value for metadata[${k}]: must be a string`, { param: `${name}[${k}]`, code: 'parameter_invalid' });
      if (k.length > 40) throw invalidRequest(`Metadata keys can be at most 40 characters long (${k.slice(0, 50)})`, { param: `${name}[${k}]`, code: 'parameter_invalid' });
      if (val.length > 500) throw invalidRequest(`Metadata values can be at most 500 characters long`, { param: `${name}[${k}]`, code: 'parameter_invalid' });
      out[k] = val;
    }
    return out;
  }

  /** `created=123` or `created[gte]=..&created[lt]=..` (Unix seconds). */
  range(name: string): { gt?: number; gte?: number; lt?: number; lte?: number } | undefined {
    const v = this.raw[name];
    if (v === undefined || v === '') return undefined;
    const num = (s: FormValue | undefined, p: string) => {
      if (typeof s !== 'string' || !/^\d+$/.test(s)) throw invalidParam(p, `Invalid integer: ${typeof s === 'string' ? s : '{...}'}`, 'parameter_invalid_integer');
      return Number(s);
    };
    if (typeof v === 'string') {
      const n = num(v, name);
      return { gte: n, lte: n };
    }
    const out: { gt?: number; gte?: number; lt?: number; lte?: number } = {};
    for (const k of Object.keys(v)) {
      if (k !== 'gt' && k !== 'gte' && k !== 'lt' && k !== 'lte') throw unknownParam(`${name}[${k}]`);
      out[k] = num(v[k], `${name}[${k}]`);
    }
    return out;
  }
}
