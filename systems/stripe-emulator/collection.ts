// Objects in creation order. `created` never decreases along that order (the clock
// is clamped), so created-range filters are binary searches and cursors are
// positions; lists are newest first, like Stripe's.
import { resourceMissing } from './errors.ts';

export interface CreatedRange { gt?: number; gte?: number; lt?: number; lte?: number }

export interface ListQuery<T> {
  limit: number;
  created?: CreatedRange;
  startingAfter?: string;
  endingBefore?: string;
  filter?: (o: T) => boolean;
}

export class Collection<T extends { id: string; created: number }> {
  readonly kind: string;
  private readonly items: T[] = [];
  private readonly index = new Map<string, number>();

  constructor(kind: string) {
    this.kind = kind;
  }

  get size(): number {
    return this.items.length;
  }

  get lastCreated(): number {
    return this.items.at(-1)?.created ?? 0;
  }

  get(id: string): T | undefined {
    const i = this.index.get(id);
    return i === undefined ? undefined : this.items[i];
  }

  /** The object with this id, or Stripe's 404 naming the object and `param`, the request field that named it. */
  find(id: string, param: string): T {
    const found = this.get(id);
    if (!found) throw resourceMissing(this.kind, id, param);
    return found;
  }

  seqOf(id: string): number | undefined {
    return this.index.get(id);
  }

  at(seq: number): T | undefined {
    return this.items[seq];
  }

  /** Inserts a new object (at the end) or replaces an existing one in place. */
  upsert(obj: T): { seq: number; isNew: boolean } {
    const existing = this.index.get(obj.id);
    if (existing !== undefined) {
      this.items[existing] = obj;
      return { seq: existing, isNew: false };
    }
    const seq = this.items.length;
    this.items.push(obj);
    this.index.set(obj.id, seq);
    return { seq, isNew: true };
  }

  values(): IterableIterator<T> {
    return this.items.values();
  }

  /** First index whose created is >= t. */
  private lowerBound(t: number): number {
    let lo = 0;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.items[mid]!.created < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  list(q: ListQuery<T>, cursorParam = (which: 'starting_after' | 'ending_before') => which): { data: T[]; hasMore: boolean } {
    let lo = 0;
    let hi = this.items.length;
    const c = q.created;
    if (c) {
      if (c.gte !== undefined) lo = Math.max(lo, this.lowerBound(c.gte));
      if (c.gt !== undefined) lo = Math.max(lo, this.lowerBound(c.gt + 1));
      if (c.lt !== undefined) hi = Math.min(hi, this.lowerBound(c.lt));
      if (c.lte !== undefined) hi = Math.min(hi, this.lowerBound(c.lte + 1));
    }
    if (q.startingAfter !== undefined) {
      const p = this.index.get(q.startingAfter);
      if (p === undefined) throw resourceMissing(this.kind, q.startingAfter, cursorParam('starting_after'));
      hi = Math.min(hi, p);
    }
    if (q.endingBefore !== undefined) {
      const p = this.index.get(q.endingBefore);
      if (p === undefined) throw resourceMissing(this.kind, q.endingBefore, cursorParam('ending_before'));
      lo = Math.max(lo, p + 1);
    }
    const data: T[] = [];
    let hasMore = false;
    const f = q.filter;
    if (q.endingBefore !== undefined && q.startingAfter === undefined) {
      // The page just before the cursor: the `limit` nearest newer objects, shown newest first.
      for (let i = lo; i < hi; i++) {
        const o = this.items[i]!;
        if (f && !f(o)) continue;
        if (data.length === q.limit) { hasMore = true; break; }
        data.push(o);
      }
      data.reverse();
    } else {
      for (let i = hi - 1; i >= lo; i--) {
        const o = this.items[i]!;
        if (f && !f(o)) continue;
        if (data.length === q.limit) { hasMore = true; break; }
        data.push(o);
      }
    }
    return { data, hasMore };
  }
}
