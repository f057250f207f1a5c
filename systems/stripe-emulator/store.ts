// The emulator's state: PaymentIntents, Refunds, the charge → PaymentIntent map,
// a metadata index for search, and the idempotency records. Everything that
// changes goes to the journal as the change itself ({"t":"pi","o":{...}}), and an
// idempotency record rides on the same line when the response is that object, so
// a replayed journal rebuilds the exact stored responses.
import { Collection } from './collection.ts';
import type { PaymentIntent, Refund } from './objects.ts';

export interface IdempotencyRecord {
  /** `POST /v1/payment_intents`: a key is bound to one endpoint. */
  endpoint: string;
  fingerprint: string;
  status: number;
  requestId: string;
  at: number;
  /** The kept response, when it is not simply an object (a 402 with its error). */
  body?: string;
  /**
   * The kept response when it was an object: the object's current state plus the
   * values its fields had then (`patch`, filled in as the object changes). A payment
   * keeps two responses (create, confirm) that differ in a few fields; holding
   * them as patches instead of copies halves the memory of a long run.
   */
  ref?: ObjectRef;
}

interface ObjectRef { t: 'pi' | 're'; id: string; patch: Record<string, unknown> }

interface InFlight {
  endpoint: string;
  fingerprint: string;
  at: number;
}

export type Change = { t: 'pi'; o: PaymentIntent } | { t: 're'; o: Refund };

interface JournalIdem { k: string; e: string; f: string; s: number; r: string; a: number; b?: string; ref?: { t: 'pi' | 're'; id: string; p: Record<string, unknown> } }
type JournalEntry = { t: 'pi'; o: PaymentIntent; i?: JournalIdem } | { t: 're'; o: Refund; i?: JournalIdem } | { t: 'idem'; i: JournalIdem };

export interface StoreOptions {
  /** Idempotency records older than this are forgotten (Stripe: at least 24 h). */
  idempotencyTtlMs: number;
  /** Upper bound on remembered keys; the oldest go first (logged: replays of them would execute again). */
  maxIdempotencyKeys: number;
}

export class Store {
  readonly paymentIntents = new Collection<PaymentIntent>('payment_intent');
  readonly refunds = new Collection<Refund>('refund');
  /** charge id → PaymentIntent id */
  readonly charges = new Map<string, string>();
  /** PaymentIntent id → refunded amount */
  readonly refunded = new Map<string, number>();
  private readonly metaIndex = new Map<string, number[]>();
  private readonly idem = new Map<string, IdempotencyRecord>();
  /** object id → idempotency keys whose kept response is that object */
  private readonly refs = new Map<string, Set<string>>();
  private readonly inFlight = new Map<string, InFlight>();
  private changes: Change[] = [];
  private readonly opts: StoreOptions;
  evictedKeys = 0;

  constructor(opts: StoreOptions) {
    this.opts = opts;
  }

  /** Unix seconds for a new object: never before the newest object (the lists rely on that). */
  createdNow(kind: 'pi' | 're'): number {
    const now = Math.floor(Date.now() / 1000);
    const last = kind === 'pi' ? this.paymentIntents.lastCreated : this.refunds.lastCreated;
    return Math.max(now, last);
  }

  putPaymentIntent(pi: PaymentIntent): void {
    this.applyPaymentIntent(pi);
    this.changes.push({ t: 'pi', o: pi });
  }

  putRefund(re: Refund): void {
    this.applyRefund(re);
    this.changes.push({ t: 're', o: re });
  }

  /** The changes made since the last call (handlers are synchronous, so these are one request's). */
  takeChanges(): Change[] {
    const c = this.changes;
    this.changes = [];
    return c;
  }

  /** Before an object is replaced: kept responses that show it remember the fields that change. */
  private preserve(old: object | undefined, next: object): void {
    if (!old) return;
    const keys = this.refs.get((old as { id: string }).id);
    if (!keys || keys.size === 0) return;
    const o = old as Record<string, unknown>;
    const n = next as Record<string, unknown>;
    let changed: string[] | undefined;
    for (const f of new Set([...Object.keys(o), ...Object.keys(n)])) {
      const a = o[f];
      const b = n[f];
      if (a === b) continue;
      if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object' && JSON.stringify(a) === JSON.stringify(b)) continue;
      (changed ??= []).push(f);
    }
    if (!changed) return;
    for (const key of keys) {
      const rec = this.idem.get(key);
      if (!rec?.ref) continue;
      for (const f of changed) if (!(f in rec.ref.patch)) rec.ref.patch[f] = o[f];
    }
  }

  /** The kept response's body, as first sent. */
  responseBody(rec: IdempotencyRecord): string {
    if (rec.body !== undefined) return rec.body;
    const ref = rec.ref!;
    const current = ref.t === 'pi' ? this.paymentIntents.get(ref.id) : this.refunds.get(ref.id);
    if (!current) throw new Error(`idempotency record refers to ${ref.t} ${ref.id}, which does not exist`);
    // Spreading keeps the object's key order; fields absent then are undefined and drop out.
    return JSON.stringify(Object.keys(ref.patch).length === 0 ? current : { ...current, ...ref.patch });
  }

  private applyPaymentIntent(pi: PaymentIntent): void {
    this.preserve(this.paymentIntents.get(pi.id), pi);
    const { seq } = this.paymentIntents.upsert(pi);
    if (pi.latest_charge) this.charges.set(pi.latest_charge, pi.id);
    if (pi.last_payment_error?.charge) this.charges.set(pi.last_payment_error.charge, pi.id);
    for (const [k, v] of Object.entries(pi.metadata)) {
      const key = `${k}\u0000${v}`;
      let seqs = this.metaIndex.get(key);
      if (!seqs) {
        seqs = [];
        this.metaIndex.set(key, seqs);
      }
      // Stale entries (after a metadata update) stay; search re-checks every candidate.
      if (seqs.length === 0 || seqs[seqs.length - 1]! < seq) seqs.push(seq);
      else if (!binaryHas(seqs, seq)) seqs.splice(lowerBound(seqs, seq), 0, seq);
    }
  }

  private applyRefund(re: Refund): void {
    this.preserve(this.refunds.get(re.id), re);
    const { isNew } = this.refunds.upsert(re);
    if (isNew && re.status === 'succeeded') {
      this.refunded.set(re.payment_intent, (this.refunded.get(re.payment_intent) ?? 0) + re.amount);
    }
  }

  /** PaymentIntent seqs (ascending) that may have metadata[key] = value. */
  metadataCandidates(key: string, value: string): readonly number[] {
    return this.metaIndex.get(`${key}\u0000${value}`) ?? [];
  }

  // ---- idempotency ----

  idempotencyRecord(key: string): IdempotencyRecord | undefined {
    const r = this.idem.get(key);
    if (r && r.at + this.opts.idempotencyTtlMs <= Date.now()) {
      this.forget(key);
      return undefined;
    }
    return r;
  }

  inFlightRecord(key: string): InFlight | undefined {
    return this.inFlight.get(key);
  }

  reserve(key: string, endpoint: string, fingerprint: string): void {
    this.inFlight.set(key, { endpoint, fingerprint, at: Date.now() });
  }

  release(key: string): void {
    this.inFlight.delete(key);
  }

  get idempotencyKeys(): number {
    return this.idem.size;
  }

  get inFlightKeys(): number {
    return this.inFlight.size;
  }

  private remember(key: string, rec: IdempotencyRecord): void {
    this.forget(key);
    this.idem.set(key, rec);
    if (rec.ref) {
      let keys = this.refs.get(rec.ref.id);
      if (!keys) {
        keys = new Set();
        this.refs.set(rec.ref.id, keys);
      }
      keys.add(key);
    }
    while (this.idem.size > this.opts.maxIdempotencyKeys) {
      this.forget(this.idem.keys().next().value as string);
      this.evictedKeys++;
    }
  }

  private forget(key: string): void {
    const rec = this.idem.get(key);
    if (!rec) return;
    this.idem.delete(key);
    if (rec.ref) {
      const keys = this.refs.get(rec.ref.id);
      keys?.delete(key);
      if (keys?.size === 0) this.refs.delete(rec.ref.id);
    }
  }

  /** Drops records past their ttl (the map is in insertion order, so the oldest come first). */
  pruneIdempotency(now = Date.now()): number {
    let n = 0;
    for (const [k, r] of this.idem) {
      if (r.at + this.opts.idempotencyTtlMs > now) break;
      this.forget(k);
      n++;
    }
    return n;
  }

  /**
   * Journal lines for one request's changes and, when the response is to be kept
   * for its idempotency key, the record (applied to memory here too).
   */
  commitLines(changes: Change[], idem: { key: string; rec: IdempotencyRecord } | undefined, bodyIsChange: Change | undefined, bodyStr: string): string[] {
    const lines: string[] = [];
    let idemWritten = false;
    for (const c of changes) {
      // The response is this object's serialisation: written once, read back as both.
      const obj = c === bodyIsChange ? bodyStr : JSON.stringify(c.o);
      if (idem && c === bodyIsChange && !idemWritten) {
        const i: JournalIdem = { k: idem.key, e: idem.rec.endpoint, f: idem.rec.fingerprint, s: idem.rec.status, r: idem.rec.requestId, a: idem.rec.at };
        lines.push(`{"t":"${c.t}","o":${obj},"i":${JSON.stringify(i)}}`);
        idem.rec.ref = { t: c.t, id: c.o.id, patch: {} };
        delete idem.rec.body;
        idemWritten = true;
      } else {
        lines.push(`{"t":"${c.t}","o":${obj}}`);
      }
    }
    if (idem) {
      if (!idemWritten) {
        idem.rec.body ??= bodyStr;
        const i: JournalIdem = { k: idem.key, e: idem.rec.endpoint, f: idem.rec.fingerprint, s: idem.rec.status, r: idem.rec.requestId, a: idem.rec.at, b: idem.rec.body };
        lines.push(JSON.stringify({ t: 'idem', i }));
      }
      this.remember(idem.key, idem.rec);
    }
    return lines;
  }

  /** Applies one journal line at startup. */
  replayEntry(raw: unknown): void {
    const e = raw as JournalEntry;
    if (e.t === 'pi') this.applyPaymentIntent(e.o);
    else if (e.t === 're') this.applyRefund(e.o);
    else if (e.t !== 'idem') throw new Error(`journal entry of unknown type ${JSON.stringify((e as { t?: unknown }).t)}`);
    const i = e.i;
    if (i) {
      const rec: IdempotencyRecord = { endpoint: i.e, fingerprint: i.f, status: i.s, requestId: i.r, at: i.a };
      if (i.b !== undefined) rec.body = i.b;
      else if (i.ref) rec.ref = { t: i.ref.t, id: i.ref.id, patch: i.ref.p };
      else if (e.t !== 'idem') rec.ref = { t: e.t, id: e.o.id, patch: {} };
      else throw new Error(`journal idempotency record ${i.k} has neither a body nor an object`);
      this.remember(i.k, rec);
    }
  }

  /** The whole state as journal lines: latest objects, then live idempotency records. */
  *compactedLines(now = Date.now()): Generator<string> {
    for (const pi of this.paymentIntents.values()) yield `{"t":"pi","o":${JSON.stringify(pi)}}`;
    for (const re of this.refunds.values()) yield `{"t":"re","o":${JSON.stringify(re)}}`;
    for (const [k, r] of this.idem) {
      if (r.at + this.opts.idempotencyTtlMs <= now) continue;
      const i: JournalIdem = { k, e: r.endpoint, f: r.fingerprint, s: r.status, r: r.requestId, a: r.at };
      if (r.body !== undefined) i.b = r.body;
      else if (r.ref) i.ref = { t: r.ref.t, id: r.ref.id, p: r.ref.patch };
      yield JSON.stringify({ t: 'idem', i });
    }
  }
}

function lowerBound(a: readonly number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function binaryHas(a: readonly number[], x: number): boolean {
  const i = lowerBound(a, x);
  return a[i] === x;
}

export { lowerBound };
