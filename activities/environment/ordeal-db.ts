// Ordeal's own database out of reach is Ordeal's failure (verdict ERROR), never the
// system's, and the reason must say so: "Ordeal's database (127.0.0.1:5433/ordeal) is
// unreachable", not a bare "connect ECONNREFUSED". A restart of that database (a few
// seconds) is waited out inside the activity; past the wait the failure is
// non-retryable, so a run against a dead or misconfigured database ends in seconds,
// not after minutes of activity retries. The classification and the words are pure.
import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure } from '@temporalio/common';

export const ORDEAL_DB_UNAVAILABLE = 'OrdealDatabaseUnavailable';

/** How long an activity waits for Ordeal's database to come back before it gives up. */
export const ORDEAL_DB_WAIT_MS = 15_000;

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE',
  // PostgreSQL: admin/crash shutdown, cannot connect now, server starting up or shutting down.
  '57P01', '57P02', '57P03',
]);

/** A failure to reach the database (refused, reset, timed out, shutting down), through up to 5 causes. */
export function isUnreachable(err: unknown): boolean {
  for (let e = err as (Error & { code?: string; errors?: unknown[] }) | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (e.code && UNREACHABLE_CODES.has(e.code)) return true;
    // An AggregateError (IPv4 + IPv6 both refused) carries the codes in its members.
    if (Array.isArray(e.errors) && e.errors.some((x) => isUnreachable(x))) return true;
    if (/timeout exceeded when trying to connect|Connection terminated|the database system is (starting up|shutting down)/.test(e.message ?? '')) return true;
  }
  return false;
}

/** host:port/database of a connection string, never its user or password; the input itself when it does not parse. */
export function whereIs(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname.length > 1 ? u.pathname : ''}`;
  } catch {
    return 'an unparsable ORDEAL_DB_URL';
  }
}

function errorText(err: unknown): string {
  const e = err as Error & { code?: string; errors?: Error[] };
  const text = e?.message || (Array.isArray(e?.errors) ? e.errors.map((x) => x.message).join('; ') : '') || e?.code || String(err);
  return text;
}

/** The reason a person reads: what was unreachable, why, and for how long it was waited for. */
export function unreachableMessage(what: string, url: string, err: unknown, waitedMs: number): string {
  return `Ordeal's database (${whereIs(url)}) is unreachable while ${what}: ${errorText(err)}`
    + ` (waited ${Math.round(waitedMs / 1000)} s; check that it is running, or ORDEAL_DB_URL)`;
}

export interface OrdealDbWait {
  /** Connection string of Ordeal's database (only host, port and database name are ever shown). */
  url: string;
  /** What the caller was doing ("persisting the ledger"). */
  what: string;
  waitMs?: number;
  /** Called between attempts (an activity heartbeats). */
  onWait?: (attempt: number, err: unknown) => void;
}

/**
 * Runs `fn` (idempotent), again while Ordeal's database is unreachable, for at most
 * `waitMs`; then throws a non-retryable OrdealDatabaseUnavailable. Other errors pass through.
 */
export async function withOrdealDb<T>(o: OrdealDbWait, fn: () => Promise<T>): Promise<T> {
  const waitMs = o.waitMs ?? ORDEAL_DB_WAIT_MS;
  const t0 = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isUnreachable(err)) throw err;
      const waited = Date.now() - t0;
      if (waited >= waitMs) {
        throw ApplicationFailure.create({ type: ORDEAL_DB_UNAVAILABLE, nonRetryable: true, message: unreachableMessage(o.what, o.url, err, waited), cause: err as Error });
      }
      o.onWait?.(attempt, err);
      await sleep(Math.min(250 * 2 ** (attempt - 1), 2000, Math.max(1, waitMs - waited)));
    }
  }
}
