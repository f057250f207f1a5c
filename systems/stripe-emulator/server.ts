// The emulator's HTTP server: Stripe's /v1 API (form-encoded, bearer sk_test_ keys,
// Stripe's idempotency semantics and error shapes), the admin API for provider
// faults, /health and /metrics. State is in memory, made durable by the journal.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify, { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import { pino, type Logger } from 'pino';
import { endpoints, type Endpoint } from './api.ts';
import { authError, idempotencyInUse, idempotencyMismatch, internalError, invalidRequest, rateLimited, StripeApiError } from './errors.ts';
import { FaultController, faultLayerSchema, type FaultDecision, type FaultsView } from './faults.ts';
import { canonical, FormDecodeError, parseForm, type FormObject } from './form.ts';
import { randomId } from './ids.ts';
import { Journal } from './journal.ts';
import { EmulatorMetrics } from './metrics.ts';
import { Store, type Change } from './store.ts';

export interface StripeEmulatorOptions {
  /** Where the journal lives; kept across restarts. */
  dataDir: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Loopback only. */
  host?: string;
  logger?: Logger;
  logLevel?: string;
  /** fdatasync every group commit (survives a machine crash, not only a process kill). Default false. */
  fsync?: boolean;
  idempotencyTtlMs?: number;
  maxIdempotencyKeys?: number;
  /** Called when the journal cannot be written: state is no longer durable. main.ts exits. */
  onFatal?: (err: Error) => void;
}

export interface EmulatorStats {
  uptime_s: number;
  requests_total: number;
  responses_by_status: Record<string, number>;
  injected: { rate_limited: number; server_errors: number; responses_lost: number; delayed: number };
  idempotency: { keys: number; in_flight: number; stored: number; replayed: number; mismatched: number; conflicts: number; evicted: number };
  objects: { payment_intents: number; refunds: number };
  journal: { path: string; bytes: number; lines_written: number; writes: number; replayed_lines: number; truncated_bytes: number; fsync: boolean; failed: string | null };
  faults: FaultsView;
}

export interface StripeEmulatorServer {
  url: string;
  host: string;
  port: number;
  stats(): EmulatorStats;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);
const DEFAULT_API_VERSION = '2025-01-27.acacia';
const heldDataDirs = new Set<string>();

function routeLabel(ep: Endpoint): string {
  return ep.path.replace(':id', '{id}');
}

function fingerprint(params: FormObject): string {
  return createHash('sha1').update(canonical(params)).digest('base64url');
}

function authenticate(header: string | undefined): void {
  if (!header) {
    throw authError('You did not provide an API key. You need to provide your API key in the Authorization header, ' +
      'using Bearer auth (e.g. \'Authorization: Bearer YOUR_SECRET_KEY\').');
  }
  let key: string | undefined;
  if (header.startsWith('Bearer ')) key = header.slice(7).trim();
  else if (header.startsWith('Basic ')) key = Buffer.from(header.slice(6), 'base64').toString().split(':')[0];
  if (!key) throw authError('Invalid authorization header. Use Bearer auth with your secret key.');
  if (!key.startsWith('sk_test_') || key.length < 9) {
    const masked = key.length > 12 ? `${key.slice(0, 8)}${'*'.repeat(Math.min(20, key.length - 12))}${key.slice(-4)}` : '***';
    throw authError(`Invalid API Key provided: ${masked}. This emulator accepts test-mode secret keys (sk_test_...) only.`);
  }
}

function lockDataDir(dataDir: string): () => void {
  if (heldDataDirs.has(dataDir)) throw new Error(`stripe-emulator: data dir ${dataDir} is already in use by an emulator in this process`);
  const lock = join(dataDir, 'emulator.pid');
  if (existsSync(lock)) {
    const pid = Number(readFileSync(lock, 'utf8').trim());
    let alive = false;
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid) {
      try { process.kill(pid, 0); alive = true; } catch { alive = false; }
    }
    if (alive) throw new Error(`stripe-emulator: data dir ${dataDir} is in use by process ${pid} (lock ${lock}); two emulators on one journal would corrupt it`);
  }
  writeFileSync(lock, String(process.pid));
  heldDataDirs.add(dataDir);
  return () => {
    heldDataDirs.delete(dataDir);
    rmSync(lock, { force: true });
  };
}

export async function startServer(opts: StripeEmulatorOptions): Promise<StripeEmulatorServer> {
  const host = opts.host ?? '127.0.0.1';
  if (!LOOPBACK.has(host)) throw new Error(`stripe-emulator: host ${host} is not a loopback address; the emulator listens on loopback only`);
  const log = opts.logger ?? pino({ name: 'stripe-emulator', level: opts.logLevel ?? 'info' });
  opts = { ...opts, dataDir: resolve(opts.dataDir) };
  mkdirSync(opts.dataDir, { recursive: true });
  const unlock = lockDataDir(opts.dataDir);
  try {
    return await startLocked(opts, host, log, unlock);
  } catch (err) {
    unlock();
    throw err;
  }
}

async function startLocked(opts: StripeEmulatorOptions, host: string, log: Logger, unlock: () => void): Promise<StripeEmulatorServer> {
  const startedAt = Date.now();
  const store = new Store({
    idempotencyTtlMs: opts.idempotencyTtlMs ?? 24 * 3600_000,
    maxIdempotencyKeys: opts.maxIdempotencyKeys ?? 2_000_000,
  });
  const journal = new Journal({ path: join(opts.dataDir, 'journal.jsonl'), fsync: opts.fsync ?? false });
  const t0 = Date.now();
  const replay = await journal.replay((e) => store.replayEntry(e));
  journal.openCompacted(store.compactedLines());
  log.info({ dataDir: opts.dataDir, replayedLines: replay.lines, truncatedBytes: replay.truncatedBytes,
    paymentIntents: store.paymentIntents.size, refunds: store.refunds.size, idempotencyKeys: store.idempotencyKeys,
    journalBytes: journal.bytes, ms: Date.now() - t0 }, 'journal replayed and compacted');
  if (replay.truncatedBytes > 0) log.warn({ bytes: replay.truncatedBytes }, 'journal ended in a torn line (killed mid-write); cut it off');

  const faults = new FaultController();
  const metrics = new EmulatorMetrics();
  const counters = {
    requests: 0, byStatus: {} as Record<string, number>, rateLimited: 0, serverErrors: 0, lost: 0, delayed: 0,
    stored: 0, replayed: 0, mismatched: 0, conflicts: 0,
  };
  let fatalReported = false;
  const fatal = (err: Error) => {
    if (fatalReported) return;
    fatalReported = true;
    log.fatal({ err }, 'journal write failed: state is no longer durable; refusing further requests');
    opts.onFatal?.(err);
  };

  // Per-request log lines would be thousands a second under load; faults, errors and lifecycle are logged instead.
  const app = Fastify({ loggerInstance: log, logController: new LogController({ disableRequestLogging: true }), bodyLimit: 1 << 20, keepAliveTimeout: 65_000,
    return503OnClosing: true, forceCloseConnections: true });

  const count = (status: number | 'lost', ep: Endpoint, started: bigint) => {
    counters.requests++;
    const s = String(status);
    counters.byStatus[s] = (counters.byStatus[s] ?? 0) + 1;
    const route = routeLabel(ep);
    metrics.requests.inc({ method: ep.method, route, status: s });
    metrics.duration.observe({ method: ep.method, route }, Number(process.hrtime.bigint() - started) / 1e9);
  };

  const send = (reply: FastifyReply, status: number, body: string, headers?: Record<string, string>) => {
    reply.code(status).header('content-type', 'application/json');
    if (headers) for (const [k, v] of Object.entries(headers)) reply.header(k, v);
    return reply.send(body);
  };

  const dropResponse = (req: FastifyRequest, reply: FastifyReply, decision: FaultDecision) => {
    counters.lost++;
    metrics.injected.inc({ kind: 'response_lost' });
    reply.hijack();
    const socket = req.raw.socket;
    if (decision.lostMode === 'timeout' && decision.lostHoldMs > 0) {
      // Silence: the client's timeout fires; the socket goes when it gives up (or after the hold).
      const timer = setTimeout(() => socket.destroy(), decision.lostHoldMs);
      timer.unref();
      socket.once('close', () => clearTimeout(timer));
    } else {
      socket.destroy();
    }
  };

  async function handle(ep: Endpoint, req: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    const started = process.hrtime.bigint();
    const requestId = randomId('req_', 14);
    reply.header('request-id', requestId);
    const version = req.headers['stripe-version'];
    reply.header('stripe-version', typeof version === 'string' && version ? version : DEFAULT_API_VERSION);
    let reservedKey: string | undefined;
    try {
      if (journal.failed) throw internalError('The emulator could not write its journal; restart it.');
      authenticate(req.headers.authorization);
      let params: FormObject;
      if (ep.method === 'POST') {
        params = (req.body as FormObject | undefined) ?? (Object.create(null) as FormObject);
      } else {
        const q = req.url.indexOf('?');
        params = q < 0 ? (Object.create(null) as FormObject) : parseForm(req.url.slice(q + 1));
      }
      const id = (req.params as { id?: string }).id;
      const rawKey = ep.method === 'POST' ? req.headers['idempotency-key'] : undefined;
      const key = typeof rawKey === 'string' && rawKey !== '' ? rawKey : undefined;
      if (key !== undefined) {
        reply.header('idempotency-key', key);
        if (key.length > 255 || !/^[\x21-\x7e][\x20-\x7e]*$/.test(key)) {
          throw invalidRequest('Idempotency-Key must be 1 to 255 printable ASCII characters.', { param: 'idempotency_key', code: 'parameter_invalid_string' });
        }
      }
      const endpoint = `${ep.method} ${ep.path.replace(':id', id ?? '')}`;
      const fp = key !== undefined ? fingerprint(params) : '';
      let replay = undefined as ReturnType<Store['idempotencyRecord']>;
      if (key !== undefined) {
        const rec = store.idempotencyRecord(key);
        if (rec) {
          if (rec.endpoint !== endpoint) {
            counters.mismatched++;
            metrics.idempotency.inc({ outcome: 'mismatch' });
            throw idempotencyMismatch(key, `it was first used for ${rec.endpoint}, now for ${endpoint}`);
          }
          if (rec.fingerprint !== fp) {
            counters.mismatched++;
            metrics.idempotency.inc({ outcome: 'mismatch' });
            throw idempotencyMismatch(key, '');
          }
          replay = rec;
        } else {
          const inflight = store.inFlightRecord(key);
          if (inflight) {
            counters.conflicts++;
            metrics.idempotency.inc({ outcome: 'conflict' });
            throw idempotencyInUse(key);
          }
          store.reserve(key, endpoint, fp);
          reservedKey = key;
        }
      }

      // Faults act inside the in-flight window: a delayed request holds its key.
      const decision = faults.decide(ep.method);
      if (decision.latencyMs > 0) {
        counters.delayed++;
        metrics.injected.inc({ kind: 'delayed' });
        await sleep(decision.latencyMs);
      }
      if (decision.error === 429) {
        counters.rateLimited++;
        metrics.injected.inc({ kind: 'rate_limited' });
        throw rateLimited();
      }
      if (decision.error === 500) {
        counters.serverErrors++;
        metrics.injected.inc({ kind: 'server_error' });
        throw internalError();
      }

      if (replay) {
        await journal.barrier();
        counters.replayed++;
        metrics.idempotency.inc({ outcome: 'replayed' });
        if (decision.responseLost) { count('lost', ep, started); dropResponse(req, reply, decision); return reply; }
        count(replay.status, ep, started);
        return send(reply, replay.status, store.responseBody(replay), { 'idempotent-replayed': 'true', 'original-request': replay.requestId });
      }

      let status: number;
      let body: unknown;
      let failure: unknown;
      try {
        const r = ep.handler(store, params, id);
        status = r.status;
        body = r.body;
      } catch (err) {
        failure = err;
        if (err instanceof StripeApiError) {
          status = err.status;
          body = { error: err.body };
        } else {
          status = 500;
          body = undefined;
        }
      }
      const changes = store.takeChanges();
      const bodyStr = body === undefined ? '' : JSON.stringify(body);
      // Stripe keeps the response once the endpoint ran: successes and card declines;
      // validation errors are not kept (the client may fix and retry with the key).
      const keep = key !== undefined && (status < 300 || status === 402);
      const bodyChange: Change | undefined = keep ? changes.find((c) => c.o === body) : undefined;
      const lines = store.commitLines(changes,
        keep ? { key: key!, rec: { endpoint, fingerprint: fp, status, requestId, at: Date.now() } } : undefined,
        bodyChange, bodyStr);
      if (keep) {
        counters.stored++;
        metrics.idempotency.inc({ outcome: 'stored' });
      }
      if (lines.length > 0) await journal.append(lines);
      else await journal.barrier();
      if (failure !== undefined && !(failure instanceof StripeApiError)) throw failure;
      if (decision.responseLost) { count('lost', ep, started); dropResponse(req, reply, decision); return reply; }
      count(status, ep, started);
      return send(reply, status, bodyStr);
    } catch (err) {
      let e: StripeApiError;
      if (err instanceof StripeApiError) e = err;
      else if (err instanceof FormDecodeError) e = invalidRequest(`Invalid request: ${err.message}`);
      else {
        if (journal.failed) fatal(journal.failed);
        else log.error({ err, method: ep.method, url: req.url, requestId }, 'unexpected error in handler');
        e = internalError();
      }
      count(e.status, ep, started);
      return send(reply, e.status, JSON.stringify({ error: e.body }), e.headers);
    } finally {
      if (reservedKey !== undefined) store.release(reservedKey);
    }
  }

  await app.register(async (api) => {
    api.removeAllContentTypeParsers();
    api.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
      try {
        done(null, parseForm(body as string));
      } catch (err) {
        done(err as Error, undefined);
      }
    });
    api.setErrorHandler(async (err: Error & { statusCode?: number }, req, reply) => {
      const e = err instanceof FormDecodeError
        ? invalidRequest(`Invalid request body: ${err.message}`)
        : (err.statusCode ?? 500) < 500
          ? invalidRequest(`Invalid request: ${err.message}. Send application/x-www-form-urlencoded bodies, as the Stripe API expects.`, { status: err.statusCode === 413 ? 413 : 400 })
          : internalError();
      if (e.status >= 500) log.error({ err, url: req.url }, 'request failed');
      return send(reply, e.status, JSON.stringify({ error: e.body }));
    });
    api.setNotFoundHandler(async (req, reply) => send(reply, 404, JSON.stringify({
      error: { type: 'invalid_request_error', message: `Unrecognized request URL (${req.method}: ${req.url.split('?')[0]}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.` },
    })));
    for (const ep of endpoints) api.route({ method: ep.method, url: ep.path, handler: (req, reply) => handle(ep, req, reply) });
  });

  const stats = (): EmulatorStats => ({
    uptime_s: Math.round((Date.now() - startedAt) / 1000),
    requests_total: counters.requests,
    responses_by_status: { ...counters.byStatus },
    injected: { rate_limited: counters.rateLimited, server_errors: counters.serverErrors, responses_lost: counters.lost, delayed: counters.delayed },
    idempotency: {
      keys: store.idempotencyKeys, in_flight: store.inFlightKeys, stored: counters.stored, replayed: counters.replayed,
      mismatched: counters.mismatched, conflicts: counters.conflicts, evicted: store.evictedKeys,
    },
    objects: { payment_intents: store.paymentIntents.size, refunds: store.refunds.size },
    journal: {
      path: journal.path, bytes: journal.bytes, lines_written: journal.linesWritten, writes: journal.writes,
      replayed_lines: replay.lines, truncated_bytes: replay.truncatedBytes, fsync: opts.fsync ?? false, failed: journal.failed?.message ?? null,
    },
    faults: faults.view(),
  });

  await app.register(async (admin) => {
    admin.get('/health', async (_req, reply) => {
      if (journal.failed) return reply.code(503).send({ status: 'failed', error: journal.failed.message });
      return { status: 'ok', payment_intents: store.paymentIntents.size, uptime_s: Math.round((Date.now() - startedAt) / 1000) };
    });
    admin.get('/metrics', async (_req, reply) => {
      metrics.objects.set({ object: 'payment_intent' }, store.paymentIntents.size);
      metrics.objects.set({ object: 'refund' }, store.refunds.size);
      metrics.objects.set({ object: 'idempotency_key' }, store.idempotencyKeys);
      metrics.journalBytes.set(journal.bytes);
      const eff = faults.view().effective;
      for (const [k, v] of Object.entries(eff)) if (typeof v === 'number') metrics.faultSetting.set({ setting: k }, v);
      metrics.faultSetting.set({ setting: 'response_lost_mode_timeout' }, eff.response_lost_mode === 'timeout' ? 1 : 0);
      return reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics());
    });
    admin.get('/_admin/faults', async () => faults.view());
    admin.post('/_admin/faults', async (req, reply) => {
      const parsed = faultLayerSchema.safeParse(req.body ?? {});
      if (!parsed.success) {
        return reply.code(400).send({
          error: 'invalid fault settings',
          issues: parsed.error.issues.map((i) => ({ path: i.path.join('.') || '(root)', message: i.message })),
        });
      }
      const layer = faults.set(parsed.data);
      log.warn({ fault: layer }, 'provider fault set');
      return faults.view();
    });
    admin.delete('/_admin/faults', async () => {
      const removed = faults.clear();
      log.warn({ removed }, 'provider faults cleared');
      return { removed, ...faults.view() };
    });
    admin.delete('/_admin/faults/:id', async (req) => {
      const { id } = req.params as { id: string };
      const removed = faults.remove(id);
      log.warn({ id, removed }, 'provider fault removed');
      return { removed: removed ? 1 : 0, ...faults.view() };
    });
    admin.get('/_admin/stats', async () => stats());
  });

  const prune = setInterval(() => {
    const n = store.pruneIdempotency();
    if (n > 0) log.info({ pruned: n }, 'idempotency records past their ttl forgotten');
  }, 60_000);
  prune.unref();

  try {
    await app.listen({ port: opts.port ?? 0, host });
  } catch (err) {
    clearInterval(prune);
    await journal.close();
    throw err;
  }
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : (opts.port ?? 0);
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  log.info({ url, port, dataDir: opts.dataDir, fsync: opts.fsync ?? false }, 'stripe emulator listening');

  let closed: Promise<void> | undefined;
  return {
    url,
    host,
    port,
    stats,
    close() {
      closed ??= (async () => {
        clearInterval(prune);
        await app.close();
        await journal.close();
        unlock();
        log.info({ paymentIntents: store.paymentIntents.size, refunds: store.refunds.size }, 'stripe emulator stopped');
      })();
      return closed;
    },
  };
}
