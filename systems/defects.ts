// Seeded defects: realistic bugs that the reference systems carry, switched off by
// default. `ordeal stack up --defects a,b` starts each process with the defects that
// belong to it in ORDEAL_DEFECTS; each process reads only its own. A correct Ordeal
// must report FAIL for each defect under the scenario that exposes it.
export const DEFECTS_ENV = 'ORDEAL_DEFECTS';

export type DefectSystem = 'payment-api' | 'stream-processor';

export interface DefectInfo {
  system: DefectSystem;
  /** What the bug is. */
  bug: string;
  /** The fault or load pattern under which it shows, and what it breaks. */
  trigger: string;
}

export const defectCatalog = {
  idempotency_check_then_insert: {
    system: 'payment-api',
    bug: 'checks for the idempotency key, then inserts, without atomicity (no unique claim)',
    trigger: 'concurrent requests with one key: duplicate payments',
  },
  idempotency_cache_only: {
    system: 'payment-api',
    bug: 'deduplicates only in Redis; PostgreSQL holds no idempotency record',
    trigger: 'Redis restart or flush, then a replay of an earlier key: duplicate payments',
  },
  ack_before_commit: {
    system: 'payment-api',
    bug: 'answers 201 before the payment is committed (write-behind batch)',
    trigger: 'database kill or network cut: acknowledged payments lost',
  },
  stripe_without_idempotency_key: {
    system: 'payment-api',
    bug: 'calls Stripe without the request\'s idempotency key',
    trigger: 'provider latency/timeouts or a database outage after the charge: duplicate charges on retry',
  },
  outbox_mark_sent_on_error: {
    system: 'payment-api',
    bug: 'the outbox relay marks rows sent even when the Kafka publish failed',
    trigger: 'Kafka outage while payments flow: events lost between the database and Kafka',
  },
  consumer_at_least_once: {
    system: 'stream-processor',
    bug: 'no transactions; consumed offsets committed after producing',
    trigger: 'processor SIGKILL mid-stream: duplicates in payments.settled',
  },
  consumer_commit_before_process: {
    system: 'stream-processor',
    bug: 'consumed offsets committed before the settlement is produced',
    trigger: 'processor SIGKILL mid-stream: settlements lost',
  },
} as const satisfies Record<string, DefectInfo>;

export type DefectName = keyof typeof defectCatalog;
export const defectNames = Object.keys(defectCatalog) as DefectName[];

export class UnknownDefectError extends Error {
  override name = 'UnknownDefectError';
}

export function isDefectName(s: string): s is DefectName {
  return Object.hasOwn(defectCatalog, s);
}

/**
 * Parses a comma-separated defect list ("a,b", "" or "none" for none). Unknown names
 * throw, listing the known ones, so a typo never silently runs the correct system.
 */
export function parseDefects(raw: string | readonly string[] | undefined): DefectName[] {
  const items = (typeof raw === 'string' ? raw.split(',') : [...(raw ?? [])]).map((s) => s.trim()).filter((s) => s && s !== 'none');
  const unknown = items.filter((s) => !isDefectName(s));
  if (unknown.length) {
    throw new UnknownDefectError(`unknown defect(s): ${unknown.join(', ')}; known: ${defectNames.join(', ')}`);
  }
  return [...new Set(items as DefectName[])].sort();
}

/** The defects of `system` in the list. */
export function defectsOf(system: DefectSystem, defects: readonly DefectName[]): DefectName[] {
  return defects.filter((d) => defectCatalog[d].system === system);
}

/** What a process calls at start: its own defects from ORDEAL_DEFECTS (others' are ignored). */
export function activeDefects(system: DefectSystem, env: NodeJS.ProcessEnv = process.env): Set<DefectName> {
  return new Set(defectsOf(system, parseDefects(env[DEFECTS_ENV])));
}
