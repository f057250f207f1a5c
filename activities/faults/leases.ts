// Fault leases and the panic switch, in Ordeal's own PostgreSQL (never the system
// under test's). A lease row is written BEFORE a fault is applied (write-ahead), so
// that whatever happens to the injector, the watchdog and `ordeal panic` know the
// fault exists and hold the handle that undoes it.
import pg from 'pg';
import type { FaultHandle } from './types.ts';

export type LeaseState = 'injecting' | 'active' | 'reverted';

export interface LeaseRow {
  faultId: string;
  runId: string;
  state: LeaseState;
  handle: FaultHandle;
  leaseExpiresAt: Date;
  revertedAt: Date | null;
  revertedBy: string | null;
  lastError: string | null;
  revertAttempts: number;
  host: string;
}

export interface RunProxyRow {
  proxyName: string;
  runId: string;
  name: string;
  listen: string;
  upstream: string;
  toxiproxyUrl: string;
  state: 'active' | 'removed';
  leaseExpiresAt: Date;
  removedBy: string | null;
}

export interface PanicState {
  active: boolean;
  reason: string | null;
  since: Date | null;
}

const schema = `
CREATE TABLE IF NOT EXISTS ordeal_fault_leases (
  fault_id          text PRIMARY KEY,
  run_id            text NOT NULL,
  type              text NOT NULL,
  target            text NOT NULL,
  backend           text NOT NULL,
  state             text NOT NULL CHECK (state IN ('injecting', 'active', 'reverted')),
  handle            jsonb NOT NULL,
  injected_at       timestamptz NOT NULL,
  lease_expires_at  timestamptz NOT NULL,
  reverted_at       timestamptz,
  reverted_by       text,
  revert_detail     text,
  last_error        text,
  revert_attempts   integer NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS ordeal_fault_leases_open ON ordeal_fault_leases (lease_expires_at) WHERE state <> 'reverted';
-- The fault host whose worker (and watchdog) reverts the fault; older rows are local.
ALTER TABLE ordeal_fault_leases ADD COLUMN IF NOT EXISTS host text NOT NULL DEFAULT 'local';
-- Run proxies: created in Ordeal's Toxiproxy for one run, removed at its end, or by
-- the watchdog once the lease runs out (the run died).
CREATE TABLE IF NOT EXISTS ordeal_run_proxies (
  proxy_name        text PRIMARY KEY,
  run_id            text NOT NULL,
  name              text NOT NULL,
  listen            text NOT NULL,
  upstream          text NOT NULL,
  toxiproxy_url     text NOT NULL,
  state             text NOT NULL CHECK (state IN ('active', 'removed')),
  created_at        timestamptz NOT NULL DEFAULT now(),
  lease_expires_at  timestamptz NOT NULL,
  removed_at        timestamptz,
  removed_by        text
);
CREATE TABLE IF NOT EXISTS ordeal_panic (
  id          integer PRIMARY KEY CHECK (id = 1),
  active      boolean NOT NULL,
  reason      text,
  since       timestamptz,
  cleared_at  timestamptz
);`;

// One advisory-lock key space for everything the fault package serialises.
const SCHEMA_LOCK = 0x0fa017;

export class LeaseStore {
  readonly pool: pg.Pool;
  private ready: Promise<void> | undefined;

  /** host:port/db, for error messages (the URL carries no password). */
  readonly where: string;

  constructor(url: string) {
    this.where = url.replace(/^postgres:\/\/[^@]*@/, '');
    this.pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 5000, idleTimeoutMillis: 10_000 });
    // An idle client that loses its server (ordeal-db restarted) must not crash the process.
    this.pool.on('error', () => {});
  }

  /** Creates the tables once per process; concurrent creators serialise on an advisory lock. */
  ensureSchema(): Promise<void> {
    this.ready ??= (async () => {
      let client: pg.PoolClient | undefined;
      try {
        client = await this.pool.connect();
        await client.query('BEGIN');
        await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
        await client.query(schema);
        await client.query('COMMIT');
      } catch (err) {
        await client?.query('ROLLBACK').catch(() => {});
        this.ready = undefined;
        throw new Error(`cannot prepare the fault lease tables in Ordeal's database (${this.where}): ${(err as Error).message}; ` +
          'is ordeal-db running? (ordeal stack up ordeal-db)', { cause: err });
      } finally {
        client?.release();
      }
    })();
    return this.ready;
  }

  async record(handle: FaultHandle, state: LeaseState): Promise<void> {
    await this.ensureSchema();
    await this.pool.query(
      `INSERT INTO ordeal_fault_leases (fault_id, run_id, type, target, backend, state, handle, injected_at, lease_expires_at, host)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       ON CONFLICT (fault_id) DO UPDATE SET handle = EXCLUDED.handle,
         state = CASE WHEN ordeal_fault_leases.state = 'reverted' THEN 'reverted' ELSE EXCLUDED.state END`,
      [handle.faultId, handle.runId, handle.type, handle.target, handle.backend, state, JSON.stringify(handle), handle.injectedAt, handle.leaseExpiresAt, handle.host ?? 'local'],
    );
  }

  /** Drops a lease whose fault was undone, so that a retried injection starts a fresh one. */
  async forget(faultId: string): Promise<void> {
    await this.ensureSchema();
    await this.pool.query("DELETE FROM ordeal_fault_leases WHERE fault_id = $1 AND state = 'reverted'", [faultId]);
  }

  async get(faultId: string): Promise<LeaseRow | undefined> {
    await this.ensureSchema();
    const res = await this.pool.query('SELECT * FROM ordeal_fault_leases WHERE fault_id = $1', [faultId]);
    return res.rows[0] ? toRow(res.rows[0]) : undefined;
  }

  async markReverted(faultId: string, by: string, detail: string): Promise<void> {
    await this.ensureSchema();
    await this.pool.query(
      `UPDATE ordeal_fault_leases SET state = 'reverted', reverted_at = coalesce(reverted_at, now()),
         reverted_by = coalesce(reverted_by, $2), revert_detail = coalesce(revert_detail, $3), last_error = NULL,
         revert_attempts = revert_attempts + 1
       WHERE fault_id = $1`,
      [faultId, by, detail],
    );
  }

  async markRevertFailed(faultId: string, error: string): Promise<void> {
    await this.ensureSchema();
    await this.pool.query('UPDATE ordeal_fault_leases SET last_error = $2, revert_attempts = revert_attempts + 1 WHERE fault_id = $1', [faultId, error]);
  }

  /** Faults not reverted yet; `expiredOnly`: only those whose lease has run out; `host`: only that fault host's. */
  async open(expiredOnly = false, host?: string): Promise<LeaseRow[]> {
    await this.ensureSchema();
    const res = await this.pool.query(
      `SELECT * FROM ordeal_fault_leases WHERE state <> 'reverted' ${expiredOnly ? 'AND lease_expires_at <= now()' : ''}
       ${host === undefined ? '' : 'AND host = $1'} ORDER BY injected_at DESC`,
      host === undefined ? [] : [host],
    );
    return res.rows.map(toRow);
  }

  /** Records a run proxy before it is created (write-ahead, like a fault); re-recording extends the lease. */
  async recordRunProxy(p: Omit<RunProxyRow, 'state' | 'removedBy'>): Promise<void> {
    await this.ensureSchema();
    await this.pool.query(
      `INSERT INTO ordeal_run_proxies (proxy_name, run_id, name, listen, upstream, toxiproxy_url, state, lease_expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, 'active', $7)
       ON CONFLICT (proxy_name) DO UPDATE SET state = 'active', lease_expires_at = EXCLUDED.lease_expires_at,
         listen = EXCLUDED.listen, upstream = EXCLUDED.upstream, toxiproxy_url = EXCLUDED.toxiproxy_url, removed_at = NULL, removed_by = NULL`,
      [p.proxyName, p.runId, p.name, p.listen, p.upstream, p.toxiproxyUrl, p.leaseExpiresAt],
    );
  }

  /**
   * Pushes the lease of a run's proxies still present to `leaseExpiresAt` (the run is
   * alive); never brings back a removed one. Returns the proxies renewed.
   */
  async renewRunProxies(runId: string, leaseExpiresAt: Date): Promise<string[]> {
    await this.ensureSchema();
    const res = await this.pool.query(
      "UPDATE ordeal_run_proxies SET lease_expires_at = greatest(lease_expires_at, $2) WHERE run_id = $1 AND state = 'active' RETURNING proxy_name",
      [runId, leaseExpiresAt],
    );
    return res.rows.map((r: { proxy_name: string }) => r.proxy_name).sort();
  }

  async markRunProxyRemoved(proxyName: string, by: string): Promise<void> {
    await this.ensureSchema();
    await this.pool.query(
      "UPDATE ordeal_run_proxies SET state = 'removed', removed_at = coalesce(removed_at, now()), removed_by = coalesce(removed_by, $2) WHERE proxy_name = $1",
      [proxyName, by],
    );
  }

  /** Run proxies still present; `runId`: of that run; `expiredOnly`: whose lease ran out (their run died). */
  async runProxies(o: { runId?: string; expiredOnly?: boolean; all?: boolean } = {}): Promise<RunProxyRow[]> {
    await this.ensureSchema();
    const where = [o.all ? 'true' : "state = 'active'"];
    const values: unknown[] = [];
    if (o.runId !== undefined) { values.push(o.runId); where.push(`run_id = $${values.length}`); }
    if (o.expiredOnly) where.push('lease_expires_at <= now()');
    const res = await this.pool.query(`SELECT * FROM ordeal_run_proxies WHERE ${where.join(' AND ')} ORDER BY proxy_name`, values);
    return res.rows.map((r: Record<string, unknown>) => ({
      proxyName: r.proxy_name as string, runId: r.run_id as string, name: r.name as string, listen: r.listen as string,
      upstream: r.upstream as string, toxiproxyUrl: r.toxiproxy_url as string, state: r.state as 'active' | 'removed',
      leaseExpiresAt: r.lease_expires_at as Date, removedBy: (r.removed_by as string | null) ?? null,
    }));
  }

  /**
   * Runs fn while holding a session advisory lock on the key, so that a worker, the
   * watchdog and `ordeal panic` never revert (e.g. restart) the same target at once.
   */
  async withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    await this.ensureSchema();
    const client = await this.pool.connect();
    try {
      // A reverter stuck for minutes (a hung restart) must not block every other one forever.
      await client.query("SELECT set_config('lock_timeout', '180s', false)");
      await client.query("SELECT pg_advisory_lock(hashtext('ordeal-fault:' || $1))", [key]);
      try {
        return await fn();
      } finally {
        await client.query("SELECT pg_advisory_unlock(hashtext('ordeal-fault:' || $1))", [key]).catch(() => {});
      }
    } finally {
      client.release();
    }
  }

  async panic(): Promise<PanicState> {
    await this.ensureSchema();
    const res = await this.pool.query('SELECT active, reason, since FROM ordeal_panic WHERE id = 1');
    const row = res.rows[0] as { active: boolean; reason: string | null; since: Date | null } | undefined;
    return row ? { active: row.active, reason: row.reason, since: row.since } : { active: false, reason: null, since: null };
  }

  async setPanic(active: boolean, reason: string | null): Promise<void> {
    await this.ensureSchema();
    await this.pool.query(
      `INSERT INTO ordeal_panic (id, active, reason, since, cleared_at) VALUES (1, $1, $2, CASE WHEN $1 THEN now() END, CASE WHEN $1 THEN NULL ELSE now() END)
       ON CONFLICT (id) DO UPDATE SET active = $1, reason = CASE WHEN $1 THEN $2 ELSE ordeal_panic.reason END,
         since = CASE WHEN $1 THEN coalesce(CASE WHEN ordeal_panic.active THEN ordeal_panic.since END, now()) ELSE ordeal_panic.since END,
         cleared_at = CASE WHEN $1 THEN NULL ELSE now() END`,
      [active, reason],
    );
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

function toRow(r: Record<string, unknown>): LeaseRow {
  return {
    faultId: r.fault_id as string,
    runId: r.run_id as string,
    state: r.state as LeaseState,
    handle: r.handle as FaultHandle,
    leaseExpiresAt: r.lease_expires_at as Date,
    revertedAt: (r.reverted_at as Date | null) ?? null,
    revertedBy: (r.reverted_by as string | null) ?? null,
    lastError: (r.last_error as string | null) ?? null,
    revertAttempts: r.revert_attempts as number,
    host: (r.host as string | undefined) ?? 'local',
  };
}
