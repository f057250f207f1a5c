// Plants a run's data in the real stack: the outcome log (a table in Ordeal's
// database, standing in for the load engine's), rows in the system-under-test
// database, and JSON events in a Kafka topic (committed and aborted transactions).
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { ledgerEntry } from '../../activities/ledger/index.ts';
import type { LedgerEntry, LedgerSpec } from '../../activities/ledger/index.ts';
import type { OutcomeStatus } from '../../activities/reconcile/index.ts';
import { loadStackConfig } from '../../scripts/stack/config.ts';
import { kafka as kafkaService } from '../../scripts/stack/services/kafka.ts';
import { ordealDbUrl, postgres as postgresService } from '../../scripts/stack/services/postgres.ts';

export const stack = loadStackConfig();
export const paymentsUrl = postgresService.url(stack);
export const ordealUrl = ordealDbUrl(stack);
export const brokers = [kafkaService.url(stack)];

export const suffix = () => randomBytes(4).toString('hex');

/** A record as a system of record holds it. */
export interface Row { message_id: string; amount_cents: number; currency: string; test_run_id: string }

export function entries(runId: string, spec: LedgerSpec): LedgerEntry[] {
  return Array.from({ length: spec.messages }, (_, seq) => ledgerEntry(runId, spec, seq));
}

export const asRow = (runId: string, e: LedgerEntry, over: Partial<Row> = {}): Row =>
  ({ message_id: e.message_id, amount_cents: e.amount_cents, currency: e.currency, test_run_id: runId, ...over });

export async function withPg<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export class OutcomeTable {
  readonly name = `reconcile_test_outcomes_${suffix()}`;
  readonly query = `SELECT message_id, outcome FROM ${this.name} WHERE run_id = $1`;
  async create(): Promise<void> {
    await withPg(ordealUrl, (c) => c.query(`CREATE TABLE ${this.name} (run_id text NOT NULL, message_id text NOT NULL, outcome text NOT NULL)`));
  }
  async insert(runId: string, rows: { message_id: string; outcome: OutcomeStatus | string }[]): Promise<void> {
    if (rows.length === 0) return;
    await withPg(ordealUrl, (c) => c.query(
      `INSERT INTO ${this.name} (run_id, message_id, outcome) SELECT $1, * FROM unnest($2::text[], $3::text[])`,
      [runId, rows.map((r) => r.message_id), rows.map((r) => r.outcome)]));
  }
  async drop(): Promise<void> {
    await withPg(ordealUrl, (c) => c.query(`DROP TABLE IF EXISTS ${this.name}`));
  }
}

export class PaymentsTable {
  readonly name = `reconcile_test_payments_${suffix()}`;
  readonly query = `SELECT message_id, amount_cents, currency FROM ${this.name} WHERE test_run_id = $1`;
  async create(): Promise<void> {
    await withPg(paymentsUrl, (c) => c.query(
      `CREATE TABLE ${this.name} (id bigserial PRIMARY KEY, message_id text, test_run_id text NOT NULL, amount_cents bigint, currency text)`));
  }
  async insert(rows: Row[]): Promise<void> {
    if (rows.length === 0) return;
    await withPg(paymentsUrl, (c) => c.query(
      `INSERT INTO ${this.name} (message_id, test_run_id, amount_cents, currency)
       SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[])`,
      [rows.map((r) => r.message_id), rows.map((r) => r.test_run_id), rows.map((r) => r.amount_cents), rows.map((r) => r.currency)]));
  }
  async drop(): Promise<void> {
    await withPg(paymentsUrl, (c) => c.query(`DROP TABLE IF EXISTS ${this.name}`));
  }
}

export class Topic {
  readonly name = `reconcile-test-${suffix()}`;
  private readonly kafka = new Kafka({ clientId: 'ordeal-reconcile-test', brokers, logLevel: logLevel.NOTHING });
  async create(partitions = 3): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      await admin.createTopics({ topics: [{ topic: this.name, numPartitions: partitions }], waitForLeaders: true });
    } finally {
      await admin.disconnect();
    }
  }
  /** A transactional producer; the caller ends it. */
  async producer(): Promise<ReturnType<Kafka['producer']>> {
    const p = this.kafka.producer({ transactionalId: `reconcile-test-${suffix()}`, idempotent: true, maxInFlightRequests: 1 });
    await p.connect();
    return p;
  }
  /** Sends values (objects as JSON, strings raw) in one transaction, committed or aborted. */
  async send(values: (object | string)[], opts: { abort?: boolean } = {}): Promise<void> {
    const p = await this.producer();
    try {
      const tx = await p.transaction();
      await tx.send({ topic: this.name, messages: values.map((v, i) => ({ key: String(i), value: typeof v === 'string' ? v : JSON.stringify(v) })) });
      if (opts.abort) await tx.abort();
      else await tx.commit();
    } finally {
      await p.disconnect();
    }
  }
  async drop(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      await admin.deleteTopics({ topics: [this.name] });
    } finally {
      await admin.disconnect();
    }
  }
}

/** Sum of ledger amounts per currency. */
export function money(list: { amount_cents: number; currency: string }[]): Record<string, number> {
  const m: Record<string, number> = {};
  for (const e of list) m[e.currency] = (m[e.currency] ?? 0) + e.amount_cents;
  return m;
}
