// The hot path: one undici Pool per target, raw dispatch handlers (no response
// streams), every failure mapped to an error class the outcome log understands.
import type { Pool } from 'undici';
import { RawPool, type AnswerCallback } from './rawhttp.ts';
import type { BuiltRequest } from './template.ts';

export interface HttpAnswer { status: number; body: string }

export class HttpTarget {
  private readonly pool: Promise<Pool> | undefined;
  private readonly raw: RawPool | undefined;
  private closed = false;
  constructor(origin: string, connections: number, opts: { client?: 'raw' | 'undici' } = {}) {
    const url = new URL(origin);
    // Pipelining 1: each in-flight request owns a connection, so a send is never
    // queued behind a slow answer inside the client (that would hide lateness).
    if (url.protocol === 'http:' && (opts.client ?? process.env.ORDEAL_LOAD_CLIENT ?? 'raw') === 'raw') this.raw = new RawPool(url, connections);
    // undici is loaded only when needed (https, or ORDEAL_LOAD_CLIENT=undici): it costs ~80 ms of startup.
    else this.pool = import('undici').then(({ Pool }) => new Pool(origin, { connections, pipelining: 1, keepAliveTimeout: 30_000, connect: { timeout: 5000 } }));
  }

  /** Host header of the raw client, which takes whole requests as text (`CompiledTemplate.wire`); undefined for undici. */
  get wireHost(): string | undefined { return this.raw?.hostHeader; }

  /**
   * The engine's path: an answer to a callback, no promise. `req` is the wire text
   * when `wireHost` is defined; `now` is the caller's clock read (performance.now()).
   */
  request(req: BuiltRequest | string, timeoutMs: number, cb: AnswerCallback, now?: number): void {
    if (this.raw) {
      if (typeof req === 'string') this.raw.request(req, timeoutMs, cb, now);
      else this.raw.send(req, timeoutMs).then((a) => cb(undefined, a.status, a.body), (err: Error) => cb(err, 0, ''));
      return;
    }
    if (typeof req === 'string') throw new Error('wire-format requests need the raw client (plain http)');
    this.send(req, timeoutMs).then((a) => cb(undefined, a.status, a.body), (err: Error) => cb(err, 0, ''));
  }

  send(req: BuiltRequest, timeoutMs: number): Promise<HttpAnswer> {
    if (this.raw) return this.raw.send(req, timeoutMs);
    return this.pool!.then((pool) => new Promise((resolve, reject) => {
      let status = 0;
      let first: Buffer | undefined;
      let rest: Buffer[] | undefined;
      pool.dispatch({ method: req.method, path: req.path, headers: req.headers, body: req.body ?? null,
        headersTimeout: timeoutMs, bodyTimeout: timeoutMs, idempotent: false, blocking: true }, {
        onRequestStart() { /* nothing to set up */ },
        onResponseStart(_c, statusCode) { status = statusCode; },
        onResponseData(_c, chunk) { if (!first) first = chunk; else (rest ??= []).push(chunk); },
        onResponseEnd() {
          const body = !first ? '' : rest ? Buffer.concat([first, ...rest]).toString() : first.toString();
          resolve({ status, body });
        },
        onResponseError(_c, err) { reject(err); },
      });
    }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.raw) await this.raw.destroy();
    else await (await this.pool!).destroy();
  }
}

/** Error classes: what went wrong, in the words the outcome log and reports use. */
export function errorClass(err: unknown): string {
  const e = err as { code?: string; cause?: { code?: string }; name?: string; message?: string };
  const code = e?.code ?? e?.cause?.code ?? '';
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'ETIMEDOUT') return 'timeout';
  if (code === 'ECONNREFUSED') return 'connection_refused';
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE' || code === 'UND_ERR_CLOSED') return 'connection_reset';
  if (code === 'UND_ERR_DESTROYED' || code === 'UND_ERR_ABORTED' || e?.name === 'AbortError') return 'cancelled';
  return 'other';
}

export interface StatusOutcome { readonly kind: 'ack' | 'failed' | 'unknown'; readonly cls: string }
// Shared answers: called once per request, so no object per call.
const ACK: StatusOutcome = { kind: 'ack', cls: '' };
const CONFLICT: StatusOutcome = { kind: 'unknown', cls: 'http_409' };
const TOO_MANY: StatusOutcome = { kind: 'unknown', cls: 'http_429' };
const CLIENT_ERROR: StatusOutcome = { kind: 'failed', cls: 'http_4xx' };
const SERVER_ERROR: StatusOutcome = { kind: 'unknown', cls: 'http_5xx' };
const OTHER: StatusOutcome = { kind: 'unknown', cls: 'http_other' };

/** How an HTTP status ends a request: ack (2xx), failed (4xx but 409/429), unknown (the rest). */
export function statusOutcome(status: number): StatusOutcome {
  if (status >= 200 && status < 300) return ACK;
  if (status === 409) return CONFLICT;
  if (status === 429) return TOO_MANY;
  if (status >= 400 && status < 500) return CLIENT_ERROR;
  if (status >= 500) return SERVER_ERROR;
  return OTHER;
}
