// The fault watchdog: the second safety layer, for when no worker ever comes back to
// revert a fault. It sweeps the lease table and reverts every fault whose lease ran
// out, with the same handles and the same idempotent revert the workers use.
import Fastify from 'fastify';
import pino from 'pino';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { faultHost, listOpenFaults, panicState, revertOpenFaults, sweepExpiredRunProxies } from './engine.ts';
import { LOCAL_HOST } from '../system/schema.ts';

export interface WatchdogOptions {
  /** Port of /health and /metrics; null: none (the watchdog inside a host's fault worker). */
  port: number | null;
  intervalMs?: number;
}

export interface Watchdog {
  /** Runs one sweep now (tests; the loop runs them on its own). */
  sweep(): Promise<void>;
  close(): Promise<void>;
}

export async function startWatchdog(opts: WatchdogOptions): Promise<Watchdog> {
  const log = pino({ name: 'ordeal-watchdog', level: process.env.ORDEAL_LOG_LEVEL ?? 'info' });
  const intervalMs = opts.intervalMs ?? 1000;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'ordeal_watchdog_' });
  const sweeps = new Counter({ name: 'ordeal_watchdog_sweeps_total', help: 'lease sweeps run', labelNames: ['outcome'], registers: [registry] });
  const reverts = new Counter({ name: 'ordeal_watchdog_reverts_total', help: 'expired faults the watchdog reverted', labelNames: ['result', 'backend', 'type'], registers: [registry] });
  const open = new Gauge({ name: 'ordeal_watchdog_open_faults', help: 'faults injected and not reverted', registers: [registry] });
  const expired = new Gauge({ name: 'ordeal_watchdog_expired_faults', help: 'open faults whose lease has run out', registers: [registry] });
  const panicked = new Gauge({ name: 'ordeal_panic_active', help: '1 while ordeal panic is in force', registers: [registry] });
  const lastSweep = new Gauge({ name: 'ordeal_watchdog_last_sweep_timestamp_seconds', help: 'end of the last successful sweep', registers: [registry] });

  let lastOk: Date | undefined;
  let lastError: string | undefined;
  let running: Promise<void> | undefined;

  // The watchdog guards the leases of the fault host this process serves.
  const host = faultHost();
  const by = host === LOCAL_HOST ? 'watchdog' : `watchdog@${host}`;
  const sweepOnce = async (): Promise<void> => {
    try {
      // Under `ordeal panic`, another host's watchdog reverts every open fault of its
      // host, not only expired ones: the CLI that raised the panic cannot undo a fault
      // on another machine (it reverts the local ones itself).
      const panicking = host !== LOCAL_HOST && (await panicState()).active;
      const results = await revertOpenFaults(by, { expiredOnly: !panicking });
      for (const { lease, result } of results) {
        const outcome = result.error ? 'failed' : result.alreadyReverted ? 'already' : 'reverted';
        reverts.inc({ result: outcome, backend: lease.handle.backend, type: lease.handle.type });
        const fields = { faultId: lease.faultId, runId: lease.runId, type: lease.handle.type, target: lease.handle.target, leaseExpiresAt: lease.leaseExpiresAt };
        if (result.error) log.error({ ...fields, err: result.error }, 'could not revert an expired fault; will retry');
        else log.warn({ ...fields, detail: result.detail }, 'lease expired: fault reverted by the watchdog');
      }
      if (host === LOCAL_HOST) {
        // Run proxies live in Ordeal's Toxiproxy, beside the local watchdog.
        const swept = await sweepExpiredRunProxies(by);
        if (swept.removed.length) log.warn({ removed: swept.removed }, 'run proxies of runs that died removed by the watchdog');
        for (const e of swept.errors) log.error({ err: e }, 'could not remove an expired run proxy; will retry');
      }
      const rows = await listOpenFaults(host);
      open.set(rows.length);
      expired.set(rows.filter((r) => r.leaseExpiresAt.getTime() <= Date.now()).length);
      panicked.set((await panicState()).active ? 1 : 0);
      lastOk = new Date();
      lastError = undefined;
      lastSweep.set(lastOk.getTime() / 1000);
      sweeps.inc({ outcome: 'ok' });
    } catch (err) {
      lastError = (err as Error).message;
      sweeps.inc({ outcome: 'error' });
      log.error({ err: lastError }, 'lease sweep failed');
    }
  };
  const sweep = (): Promise<void> => {
    running ??= sweepOnce().finally(() => { running = undefined; });
    return running;
  };

  if (opts.port === null) {
    await sweep();
    const timer = setInterval(() => { void sweep(); }, intervalMs);
    log.info({ host, intervalMs }, 'fault watchdog running');
    return { sweep, async close() { clearInterval(timer); await running; } };
  }
  const app = Fastify({ logger: false });
  app.get('/health', async (_req, reply) => {
    // Healthy while sweeps succeed: a watchdog that cannot read the leases protects nothing.
    const fresh = lastOk !== undefined && Date.now() - lastOk.getTime() < Math.max(10_000, intervalMs * 5);
    return reply.code(fresh ? 200 : 503).send({ ok: fresh, lastSweepAt: lastOk?.toISOString() ?? null, lastError: lastError ?? null });
  });
  app.get('/metrics', async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()));
  await sweep();
  await app.listen({ host: '127.0.0.1', port: opts.port });
  const timer = setInterval(() => { void sweep(); }, intervalMs);
  log.info({ port: opts.port, host, intervalMs }, 'fault watchdog running');

  return {
    sweep,
    async close() {
      clearInterval(timer);
      await running;
      await app.close();
    },
  };
}
