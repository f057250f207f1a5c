// The hot path: one undici Pool per target, raw dispatch handlers (no response
// streams), every failure mapped to an error class the outcome log understands.
import type { Pool } from 'undici';
import { RawPool } from './rawhttp.ts';
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

/** How an HTTP status ends a request: ack (2xx), failed (4xx but 409/429), unknown (the rest). */
export function statusOutcome(status: number): { kind: 'ack' | 'failed' | 'unknown'; cls: string } {
  if (status >= 200 && status < 300) return { kind: 'ack', cls: '' };
  if (status === 409) return { kind: 'unknown', cls: 'http_409' };
  if (status === 429) return { kind: 'unknown', cls: 'http_429' };
  if (status >= 400 && status < 500) return { kind: 'failed', cls: 'http_4xx' };
  if (status >= 500) return { kind: 'unknown', cls: 'http_5xx' };
  return { kind: 'unknown', cls: 'http_other' };
}
