// Test harness for the payment API against the real stack: an API instance on its
// own database (so the stack's own payment-api never touches a test's rows), a
// client with same-key retries (what Ordeal's redelivery does), readers for the
// three systems of record (PostgreSQL, Stripe, Kafka), and real service restarts.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { pino } from 'pino';
import Stripe from 'stripe';
import { Pool as HttpPool } from 'undici';
import { PAYMENTS_TOPIC, type PaymentEvent } from '../../systems/contracts.ts';
import { StripeEmulatorAdmin } from '../../systems/stripe-emulator/index.ts';
import { startPaymentApi, type PaymentApi, type PaymentApiOptions } from '../../systems/payment-api/index.ts';
import { loadStackConfig, stackServices, type StackConfig } from '../../scripts/stack/index.ts';
import { down, up } from '../../scripts/stack/supervisor.ts';
import { readPidFile, terminate } from '../../scripts/stack/process.ts';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const config: StackConfig = loadStackConfig();
export const pgAdminUrl = (db = 'postgres') => `postgres://postgres@127.0.0.1:${config.ports.postgres}/${db}`;
const viaProxy = (db: string) => `postgres://postgres@127.0.0.1:${config.ports.postgres_proxy}/${db}`;
export const stripeUrl = process.env.STRIPE_EMULATOR_URL ?? `http://127.0.0.1:${config.ports.stripe_emulator}`;
export const kafkaBrokers = [`127.0.0.1:${config.ports.kafka_proxy}`];

export const runId = (what: string) => `t-${what}-${randomUUID().slice(0, 8)}`;

/** A fresh database on the stack's (proxied) PostgreSQL, dropped by the returned function. */
export async function freshDatabase(name: string): Promise<{ url: string; directUrl: string; drop: () => Promise<void> }> {
  const db = `pt_${name.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${randomUUID().slice(0, 6)}`;
  const admin = new pg.Client({ connectionString: pgAdminUrl() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${db}`);
  } finally {
    await admin.end();
  }
  return {
    url: viaProxy(db),
    directUrl: pgAdminUrl(db),
    drop: async () => {
      for (let i = 0; i < 20; i++) {
        const c = new pg.Client({ connectionString: pgAdminUrl() });
        try {
          await c.connect();
          await c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
          return;
        } catch {
          await sleep(500); // the database may be restarting after a test's kill
        } finally {
          await c.end().catch(() => {});
        }
      }
    },
  };
}

export interface TestApi {
  api: PaymentApi;
  url: string;
  db: pg.Pool;
  close(): Promise<void>;
}

/** Starts an API instance in-process on a free loopback port, on its own database. */
export async function startTestApi(name: string, options: Partial<PaymentApiOptions> = {}): Promise<TestApi> {
  const database = await freshDatabase(name);
  let api: PaymentApi;
  try {
    api = await startPaymentApi({
      databaseUrl: database.url,
      redisUrl: `redis://127.0.0.1:${config.ports.redis_proxy}`,
      kafkaBrokers,
      stripeEmulatorUrl: stripeUrl,
      host: '127.0.0.1',
      port: 0,
      // Many test instances share one PostgreSQL; 16 warm connections each is plenty.
      dbPoolMin: 16,
      logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
      ...options,
    });
  } catch (err) {
    // A start that is meant to fail (start-up tests) must not leave its database behind.
    await database.drop();
    throw err;
  }
  // Reads bypass the proxy and survive nothing but what the test does to postgres itself.
  const db = new pg.Pool({ connectionString: database.directUrl, max: 4 });
  db.on('error', () => {});
  db.on('connect', (c) => c.on('error', () => {}));
  return {
    api, url: api.url, db,
    close: async () => {
      await api.close();
      await db.end();
      await database.drop();
    },
  };
}

export interface PaymentBody {
  message_id: string;
  amount_cents: number;
  currency: string;
  customer_id: string;
  test_run_id: string;
}

export const body = (run: string, i: number, over: Partial<PaymentBody> = {}): PaymentBody => ({
  message_id: `${run}-${String(i).padStart(6, '0')}`,
  amount_cents: 100 + (i % 997),
  currency: 'usd',
  customer_id: `cust_${i % 50}`,
  test_run_id: run,
  ...over,
});

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: Record<string, unknown>;
}

export class Client {
  readonly http: HttpPool;
  constructor(url: string, connections = 128) {
    this.http = new HttpPool(url, { connections, pipelining: 1, headersTimeout: 30000, bodyTimeout: 30000 });
  }

  async post(b: unknown, key: string | null, extraHeaders: Record<string, string> = {}, raw?: string): Promise<Reply> {
    const res = await this.http.request({
      method: 'POST', path: '/payments',
      headers: { 'content-type': 'application/json', ...(key === null ? {} : { 'idempotency-key': key }), ...extraHeaders },
      body: raw ?? JSON.stringify(b),
    });
    const text = await res.body.text();
    let json: Record<string, unknown> = {};
    try { json = JSON.parse(text) as Record<string, unknown>; } catch { json = { raw: text }; }
    return { status: res.statusCode, headers: res.headers, json };
  }

  async get(path: string): Promise<Reply & { text: string }> {
    const res = await this.http.request({ method: 'GET', path });
    const text = await res.body.text();
    let json: Record<string, unknown> = {};
    try { json = JSON.parse(text) as Record<string, unknown>; } catch { /* not JSON (metrics) */ }
    return { status: res.statusCode, headers: res.headers, json, text };
  }

  /**
   * Sends until a definitive answer (201/200), retrying 503/409/5xx and connection
   * errors with the SAME key, like Ordeal's redelivery. Returns the final reply and
   * how many attempts it took.
   */
  async postUntilAcked(b: PaymentBody, key: string, deadlineMs = 60000): Promise<Reply & { attempts: number }> {
    const deadline = Date.now() + deadlineMs;
    for (let attempts = 1; ; attempts++) {
      let reply: Reply | null = null;
      try {
        reply = await this.post(b, key);
        if (reply.status === 200 || reply.status === 201 || (reply.status >= 400 && reply.status < 500 && reply.status !== 409)) {
          return { ...reply, attempts };
        }
      } catch { /* connection error: unknown outcome, retry with the same key */ }
      if (Date.now() > deadline) throw new Error(`no definitive answer for ${key} after ${attempts} attempts (last: ${reply?.status ?? 'error'})`);
      await sleep(Math.min(1000, 50 * attempts));
    }
  }

  close(): Promise<void> {
    return this.http.close();
  }
}

export interface LoadResult {
  acked: Map<string, string>; // message_id -> payment id
  statuses: Map<number, number>;
  attempts: number;
}

/**
 * Open-loop-ish load: `count` payments started at `ratePerSec`, each retried with its
 * own key until acknowledged. `during` runs concurrently (the fault).
 */
export async function runLoad(client: Client, run: string, count: number, ratePerSec: number,
  during?: (progress: () => number) => Promise<void>, onlyFirstAnswer = false): Promise<LoadResult> {
  const acked = new Map<string, string>();
  const statuses = new Map<number, number>();
  let attempts = 0;
  let started = 0;
  const t0 = Date.now();
  const sends: Promise<void>[] = [];
  const fault = during?.(() => started);
  for (let i = 0; i < count; i++) {
    const due = t0 + (i * 1000) / ratePerSec;
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait);
    started++;
    const b = body(run, i);
    sends.push((async () => {
      if (onlyFirstAnswer) {
        try {
          const r = await client.post(b, `key-${b.message_id}`);
          attempts++;
          statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
          if (r.status === 200 || r.status === 201) acked.set(b.message_id, String(r.json.id));
        } catch {
          statuses.set(0, (statuses.get(0) ?? 0) + 1);
        }
        return;
      }
      const r = await client.postUntilAcked(b, `key-${b.message_id}`);
      attempts += r.attempts;
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      if (r.status === 200 || r.status === 201) acked.set(b.message_id, String(r.json.id));
    })());
  }
  await Promise.all([...sends, fault]);
  return { acked, statuses, attempts };
}

/** Payment rows per message_id of a run. */
export async function dbCounts(db: pg.Pool, run: string): Promise<Map<string, number>> {
  const r = await db.query<{ message_id: string; n: string }>(
    'SELECT message_id, count(*) AS n FROM payments WHERE test_run_id = $1 GROUP BY message_id', [run]);
  return new Map(r.rows.map((x) => [x.message_id, Number(x.n)]));
}

export async function waitOutboxDrained(db: pg.Pool, timeoutMs = 60000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const r = await db.query<{ n: string }>('SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL');
      if (Number(r.rows[0]!.n) === 0) return;
    } catch { /* database restarting */ }
    if (Date.now() > deadline) throw new Error(`outbox not drained after ${timeoutMs} ms`);
    await sleep(100);
  }
}

export const stripeAdmin = new StripeEmulatorAdmin(stripeUrl);

export const stripe = (() => {
  const u = new URL(stripeUrl);
  return new Stripe('sk_test_ordeal_emulator', { host: u.hostname, port: Number(u.port), protocol: 'http', maxNetworkRetries: 3 });
})();

/** PaymentIntents per message_id of a run, found by metadata search. */
export async function stripeCounts(run: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for await (const pi of stripe.paymentIntents.search({ query: `metadata['test_run_id']:'${run}'`, limit: 100 })) {
    const id = pi.metadata?.message_id ?? '?';
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

/**
 * Messages on `payments` per message_id of a run: reads every partition up to its
 * current end. With `distinctPayments`, counts distinct payment ids instead: the relay
 * is at least once, so a republished event (same payment) is not a second payment.
 */
export async function kafkaCounts(run: string, timeoutMs = 30000, distinctPayments = false): Promise<Map<string, number>> {
  const kafka = new Kafka({ clientId: `payment-test-${randomUUID().slice(0, 6)}`, brokers: kafkaBrokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map<number, bigint>();
  try {
    for (const o of await admin.fetchTopicOffsets(PAYMENTS_TOPIC)) ends.set(o.partition, BigInt(o.high));
  } finally {
    await admin.disconnect();
  }
  const counts = new Map<string, number>();
  const seen = new Set<string>();
  const todo = new Set([...ends].filter(([, high]) => high > 0n).map(([p]) => p));
  if (todo.size === 0) return counts;
  const consumer = kafka.consumer({ groupId: `payment-test-${randomUUID()}`, readUncommitted: false });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: PAYMENTS_TOPIC, fromBeginning: true });
    let done!: () => void;
    const finished = new Promise<void>((resolve) => { done = resolve; });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          if (BigInt(m.offset) >= ends.get(batch.partition)!) break;
          const ev = JSON.parse(m.value!.toString()) as PaymentEvent;
          const fresh = !distinctPayments || !seen.has(ev.payment_id);
          seen.add(ev.payment_id);
          if (ev.test_run_id === run && fresh) counts.set(ev.message_id, (counts.get(ev.message_id) ?? 0) + 1);
          if (BigInt(m.offset) + 1n >= ends.get(batch.partition)!) todo.delete(batch.partition);
        }
        if (todo.size === 0) done();
      },
    });
    const timer = new AbortController();
    try {
      await Promise.race([finished, sleep(timeoutMs, undefined, { signal: timer.signal }).then(() => {
        throw new Error(`kafka read incomplete after ${timeoutMs} ms (partitions left: ${[...todo].join(',')})`);
      })]);
    } finally {
      timer.abort();
    }
  } finally {
    await consumer.disconnect();
  }
  return counts;
}

export interface Verdict {
  lost: string[];
  duplicated: string[];
  ghosts: string[];
}

/** Exactly-once check of one system of record against the acknowledged set. */
export function reconcile(acked: Iterable<string>, present: Map<string, number>): Verdict {
  const ackedSet = new Set(acked);
  return {
    lost: [...ackedSet].filter((id) => !present.has(id)),
    duplicated: [...present].filter(([, n]) => n > 1).map(([id]) => id),
    ghosts: [...present.keys()].filter((id) => !ackedSet.has(id)),
  };
}

/**
 * Waits until a killed process is reaped, not merely dead: PostgreSQL refuses to
 * start while the pid in its postmaster.pid exists, and a zombie exists until PID 1
 * reaps it (which here takes a moment).
 */
async function reaped(pid: number, timeoutMs = 15000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (existsSync(`/proc/${pid}`) && Date.now() < deadline) await sleep(50);
}

/** SIGKILLs a stack service's process tree (a real crash), then starts it again. */
export async function killService(name: 'postgres' | 'redis' | 'kafka', downMs: number): Promise<void> {
  const rec = readPidFile(join(config.home, 'run', `${name}.pid`));
  if (!rec) throw new Error(`${name} is not running in the stack at ${config.home}`);
  await terminate(rec, 'SIGKILL', 0);
  await reaped(rec.pid);
  await sleep(downMs);
  await up({ config, services: stackServices, only: [name] });
}

/** Stops a stack service cleanly (as an operator's restart would), then starts it. */
export async function restartService(name: 'postgres' | 'redis' | 'kafka', downMs: number): Promise<void> {
  await down({ config, services: stackServices, only: [name] });
  await sleep(downMs);
  await up({ config, services: stackServices, only: [name] });
}
