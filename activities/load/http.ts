// The hot path: one undici Pool per target, raw dispatch handlers (no response
// streams), every failure mapped to an error class the outcome log understands.
import { Pool } from 'undici';
import type { BuiltRequest } from './template.ts';

export interface HttpAnswer { status: number; body: string }

export class HttpTarget {
  readonly pool: Pool;
  private closed = false;
  constructor(origin: string, connections: number) {
    // Pipelining 1: each in-flight request owns a connection, so a send is never
    // queued behind a slow answer inside the client (that would hide lateness).
    this.pool = new Pool(origin, { connections, pipelining: 1, keepAliveTimeout: 30_000, connect: { timeout: 5000 } });
  }

  send(req: BuiltRequest, timeoutMs: number): Promise<HttpAnswer> {
    return new Promise((resolve, reject) => {
      let status = 0;
      let first: Buffer | undefined;
      let rest: Buffer[] | undefined;
      this.pool.dispatch({ method: req.method, path: req.path, headers: req.headers, body: req.body ?? null,
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
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.destroy();
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
