// What the system under test answered, in words a person reads: the reason a run
// against a hung, resetting, failing or absent system FAILs ("2,000 requests timed
// out after 5 s; the system never answered during redelivery"). Pure.
import type { RedeliverResult } from '../activities/load/redeliver.ts';
import type { RedeliverySummary } from '../activities/report/types.ts';

const thousands = (n: number) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
const seconds = (ms: number) => `${thousands(Math.round(ms / 100) / 10)} s`;

/** One error class as a phrase; an unknown class keeps its name. */
function phrase(cls: string, n: number, timeoutMs: number): string {
  const requests = `${thousands(n)} ${n === 1 ? 'request' : 'requests'}`;
  const connections = `${thousands(n)} ${n === 1 ? 'connection was' : 'connections were'}`;
  switch (cls) {
    case 'timeout': return `${requests} timed out after ${seconds(timeoutMs)}`;
    case 'connection_reset': return `${connections} reset`;
    case 'connection_refused': return `${connections} refused (nothing listening)`;
    case 'http_5xx': return `${requests} answered with HTTP 5xx`;
    case 'http_429': return `${requests} answered with HTTP 429 (too many requests)`;
    case 'http_409': return `${requests} answered with HTTP 409 (conflict)`;
    case 'http_4xx': return `${requests} rejected with HTTP 4xx`;
    case 'cancelled': return `${requests} cancelled`;
    default: return `${requests} failed (${cls})`;
  }
}

/** Error classes, most frequent first: "1,800 requests timed out after 5 s, 12 connections were reset". */
export function describeErrors(errorsByClass: Record<string, number>, timeoutMs: number): string {
  return Object.entries(errorsByClass).filter(([, n]) => n > 0).sort(([a, x], [b, y]) => y - x || a.localeCompare(b))
    .map(([cls, n]) => phrase(cls, n, timeoutMs)).join(', ');
}

/**
 * Null when redelivery got every entry acknowledged. Otherwise the system failed to
 * acknowledge payments it was offered again and again with the same idempotency key:
 * a FAIL, with what it answered instead.
 */
export function redeliveryFailure(r: RedeliverResult, o: { timeoutMs: number; deadlineMs: number }): string | null {
  if (r.stillUnacknowledged === 0) return null;
  const errors = describeErrors(r.errorsByClass, o.timeoutMs);
  const answered = r.answered === 0 ? 'the system never answered during redelivery'
    : r.acked === 0 ? `the system answered ${thousands(r.answered)} of ${thousands(r.requests)} requests, none with a 2xx`
      : `${thousands(r.acked)} of ${thousands(r.resent)} re-sent entries were acknowledged`;
  const notResent = r.stillUnacknowledged - (r.resent - r.acked);
  return `redelivery: ${thousands(r.stillUnacknowledged)} ${r.stillUnacknowledged === 1 ? 'entry' : 'entries'} still unacknowledged after ${seconds(o.deadlineMs)}`
    + `${errors ? `: ${errors}` : ''}; ${answered}${notResent > 0 ? ` (${thousands(notResent)} not re-sent before the deadline)` : ''}`;
}

/** The report's redelivery: counts, and what the system answered instead of a 2xx, per class and in words. */
export function redeliverySummary(r: RedeliverResult, o: { timeoutMs: number }): RedeliverySummary {
  const errorsByClass = Object.fromEntries(Object.entries(r.errorsByClass).filter(([, n]) => n > 0));
  const errors = describeErrors(errorsByClass, o.timeoutMs);
  return {
    resent: r.resent, acked: r.acked, still_unacknowledged: r.stillUnacknowledged, requests: r.requests, answered: r.answered,
    errors_by_class: errorsByClass, ...(errors ? { errors } : {}),
  };
}
