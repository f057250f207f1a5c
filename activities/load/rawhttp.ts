// A lean HTTP/1.1 keep-alive client for plain-http targets: one write per request
// (request line, headers and body serialised together), a minimal response parser
// (status, content-length or chunked body, connection: close), no pipelining. It
// exists because the load generator's CPU per request is the product: undici's
// generality (header validation, wasm parser, writev of head and body) costs ~3x.
// https targets use undici (see http.ts).
import { connect, type Socket } from 'node:net';
import type { BuiltRequest } from './template.ts';
import type { HttpAnswer } from './http.ts';

const CRLFCRLF = Buffer.from('\r\n\r\n');

function codedError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

interface Pending { resolve: (a: HttpAnswer) => void; reject: (e: Error) => void; deadline: number; conn?: Conn }

class Conn {
  readonly socket: Socket;
  private buf: Buffer | undefined;
  private pending: Pending | undefined;
  private status = 0;
  /** -1: reading head; otherwise body bytes expected (content-length) / -2 chunked / -3 until close. */
  private want = -1;
  private bodyStart = 0;
  private closeAfter = false;
  alive = true;
  private readonly pool: RawPool;

  constructor(pool: RawPool, host: string, port: number) {
    this.pool = pool;
    this.socket = connect({ host, port, noDelay: true, keepAlive: true });
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (err) => this.fail(err));
    this.socket.on('close', () => {
      // A response without length or chunking ends when the server closes.
      if (this.pending && this.want === -3 && this.buf) { this.finish(this.buf.toString('utf8', this.bodyStart)); return; }
      this.fail(codedError('connection closed before the response ended', 'ECONNRESET'));
    });
  }

  send(head: string, p: Pending): void {
    p.conn = this;
    this.pending = p;
    this.status = 0;
    this.want = -1;
    this.buf = undefined;
    this.closeAfter = false;
    this.socket.write(head);
  }

  private fail(err: Error): void {
    const wasAlive = this.alive;
    this.alive = false;
    if (wasAlive) this.pool.dropConn(this);
    const p = this.pending;
    this.pending = undefined;
    if (p) { this.pool.settled(p); p.reject(err); }
    if (!this.socket.destroyed) this.socket.destroy();
  }

  timeout(): void { this.fail(codedError('no complete response within the timeout', 'ETIMEDOUT')); }
  destroy(err: Error): void { this.fail(err); }

  private onData(chunk: Buffer): void {
    if (!this.pending) { this.fail(codedError('data without a request', 'ECONNRESET')); return; }
    this.buf = this.buf ? Buffer.concat([this.buf, chunk]) : chunk;
    const buf = this.buf;
    if (this.want === -1) {
      const end = buf.indexOf(CRLFCRLF);
      if (end < 0) return;
      const head = buf.toString('latin1', 0, end);
      this.status = (head.charCodeAt(9) - 48) * 100 + (head.charCodeAt(10) - 48) * 10 + (head.charCodeAt(11) - 48);
      this.bodyStart = end + 4;
      if (this.status >= 100 && this.status < 200) { this.buf = buf.subarray(this.bodyStart); this.onData(Buffer.alloc(0)); return; }
      const lower = head.toLowerCase();
      const cl = lower.indexOf('\r\ncontent-length:');
      this.closeAfter = lower.includes('\r\nconnection: close');
      if (cl >= 0) {
        const eol = lower.indexOf('\r\n', cl + 2);
        this.want = parseInt(lower.slice(cl + 17, eol < 0 ? undefined : eol), 10);
      }
      else if (lower.includes('\r\ntransfer-encoding: chunked')) this.want = -2;
      else if (this.status === 204 || this.status === 304) this.want = 0;
      else { this.want = -3; this.closeAfter = true; }
    }
    if (this.want >= 0) {
      if (buf.length - this.bodyStart < this.want) return;
      this.finish(buf.toString('utf8', this.bodyStart, this.bodyStart + this.want));
    } else if (this.want === -2) {
      const body = dechunk(buf, this.bodyStart);
      if (body !== undefined) this.finish(body);
    }
    // want === -3: the body ends when the server closes (handled in 'close' below).
  }

  private finish(body: string): void {
    const p = this.pending!;
    // Capture before release(): handing the connection on resets its state.
    const status = this.status;
    this.pending = undefined;
    this.buf = undefined;
    this.pool.settled(p);
    if (this.closeAfter) { this.alive = false; this.pool.dropConn(this); this.socket.destroy(); }
    else this.pool.release(this);
    p.resolve({ status, body });
  }
}

/** Chunked body → string, or undefined while incomplete. */
function dechunk(buf: Buffer, start: number): string | undefined {
  const parts: Buffer[] = [];
  let i = start;
  for (;;) {
    const eol = buf.indexOf('\r\n', i);
    if (eol < 0) return undefined;
    const size = parseInt(buf.toString('latin1', i, eol), 16);
    if (Number.isNaN(size)) throw codedError('bad chunk size', 'ECONNRESET');
    if (size === 0) return buf.indexOf(CRLFCRLF, eol - 2) >= 0 ? Buffer.concat(parts).toString() : undefined;
    if (buf.length < eol + 2 + size + 2) return undefined;
    parts.push(buf.subarray(eol + 2, eol + 2 + size));
    i = eol + 2 + size + 2;
  }
}

export class RawPool {
  private readonly idle: Conn[] = [];
  private readonly all = new Set<Conn>();
  private readonly waiting: { head: string; p: Pending }[] = [];
  private destroyed = false;
  private readonly inFlight = new Set<Pending>();
  private sweeper: NodeJS.Timeout | undefined;
  private readonly host: string;
  private readonly port: number;
  private readonly hostHeader: string;
  private readonly max: number;

  constructor(origin: URL, max: number) {
    this.host = origin.hostname;
    this.port = Number(origin.port || 80);
    this.hostHeader = origin.host;
    this.max = max;
  }

  send(req: BuiltRequest, timeoutMs: number): Promise<HttpAnswer> {
    let head = `${req.method} ${req.path} HTTP/1.1\r\nhost: ${this.hostHeader}\r\n`;
    for (const k in req.headers) head += `${k}: ${req.headers[k]}\r\n`;
    if (req.body !== undefined) head += `content-length: ${Buffer.byteLength(req.body)}\r\n\r\n${req.body}`;
    else head += req.method === 'GET' || req.method === 'DELETE' ? '\r\n' : 'content-length: 0\r\n\r\n';
    return new Promise((resolve, reject) => {
      if (this.destroyed) { reject(codedError('client destroyed', 'UND_ERR_DESTROYED')); return; }
      const p: Pending = { resolve, reject, deadline: performance.now() + timeoutMs };
      this.inFlight.add(p);
      this.sweepSoon(timeoutMs);
      const conn = this.idle.pop() ?? (this.all.size < this.max ? this.open() : undefined);
      if (conn) conn.send(head, p);
      else this.waiting.push({ head, p });
    });
  }

  settled(p: Pending): void { this.inFlight.delete(p); }

  /**
   * One sweep timer per pool instead of one timer per request: timeouts fire within
   * ~1/10 of the timeout (at most 100 ms) of their deadline, at a fraction of the cost.
   */
  private sweepSoon(timeoutMs: number): void {
    if (this.sweeper) return;
    const every = Math.max(5, Math.min(100, timeoutMs / 10));
    this.sweeper = setInterval(() => {
      if (!this.inFlight.size) { clearInterval(this.sweeper); this.sweeper = undefined; return; }
      const now = performance.now();
      for (const p of this.inFlight) {
        if (p.deadline > now) continue;
        if (p.conn) p.conn.timeout();
        else {
          this.inFlight.delete(p);
          const i = this.waiting.findIndex((w) => w.p === p);
          if (i >= 0) this.waiting.splice(i, 1);
          p.reject(codedError('queued past the timeout', 'ETIMEDOUT'));
        }
      }
    }, every);
    this.sweeper.unref();
  }

  private open(): Conn {
    const c = new Conn(this, this.host, this.port);
    this.all.add(c);
    return c;
  }

  release(c: Conn): void {
    const w = this.waiting.shift();
    if (w) c.send(w.head, w.p);
    else this.idle.push(c);
  }

  dropConn(c: Conn): void {
    this.all.delete(c);
    const i = this.idle.indexOf(c);
    if (i >= 0) this.idle.splice(i, 1);
  }

  async destroy(): Promise<void> {
    this.destroyed = true;
    const err = codedError('client destroyed', 'UND_ERR_DESTROYED');
    for (const w of this.waiting.splice(0)) { this.inFlight.delete(w.p); w.p.reject(err); }
    for (const c of [...this.all]) c.destroy(err);
    if (this.sweeper) clearInterval(this.sweeper);
  }
}
