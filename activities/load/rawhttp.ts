// A lean HTTP/1.1 keep-alive client for plain-http targets: one write per request
// (request line, headers and body serialised together), a minimal response parser
// (status, content-length or chunked body, connection: close), no pipelining. It
// exists because the load generator's CPU per request is the product: undici's
// generality (header validation, wasm parser, writev of head and body) costs ~3x.
// https targets use undici (see http.ts).
//
// The hot path avoids what costs per request: reads land in one buffer shared by the
// pool's sockets (`onread`: no Buffer, no stream event per chunk), the head is parsed
// byte by byte without decoding it, answers go to a callback (no promise), and one
// sweep timer serves every deadline.
import { connect, type Socket } from 'node:net';
import type { BuiltRequest } from './template.ts';
import type { HttpAnswer } from './http.ts';

/** An answer (status, body) or the error that ended the request. */
export type AnswerCallback = (err: Error | undefined, status: number, body: string) => void;

function codedError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

const CR = 13;
const LF = 10;
const CRLFCRLF = Buffer.from('\r\n\r\n');
// Header names compared case-insensitively, as lowercase bytes.
const CONTENT_LENGTH = Buffer.from('content-length:');
const CONNECTION = Buffer.from('connection:');
const TRANSFER_ENCODING = Buffer.from('transfer-encoding:');
const CLOSE = Buffer.from('close');
const CHUNKED = Buffer.from('chunked');

/** Does d[at..] start with `name` (lowercase ASCII), ignoring case? */
function startsWithLower(d: Buffer, at: number, end: number, name: Buffer): boolean {
  if (end - at < name.length) return false;
  for (let i = 0; i < name.length; i++) if ((d[at + i]! | 0x20) !== name[i]) return false;
  return true;
}

/** Does d[from, to) contain `word` (lowercase ASCII), ignoring case? */
function containsLower(d: Buffer, from: number, to: number, word: Buffer): boolean {
  outer: for (let i = from; i + word.length <= to; i++) {
    for (let j = 0; j < word.length; j++) if ((d[i + j]! | 0x20) !== word[j]) continue outer;
    return true;
  }
  return false;
}

class Conn {
  readonly socket: Socket;
  /** Bytes of an answer that did not arrive in one read (owned copy: the read buffer is shared). */
  private partial: Buffer | undefined;
  private cb: AnswerCallback | undefined;
  deadline = 0;
  private status = 0;
  /** -1: reading head; otherwise body bytes expected (content-length) / -2 chunked / -3 until close. */
  private want = -1;
  private closeAfter = false;
  alive = true;
  private readonly pool: RawPool;

  constructor(pool: RawPool, host: string, port: number, readBuffer: Buffer) {
    this.pool = pool;
    this.socket = connect({ host, port, noDelay: true, keepAlive: true,
      onread: { buffer: readBuffer, callback: (n: number, buf: Uint8Array) => {
        this.onRead(buf as Buffer, n);
        return true;
      } } });
    this.socket.on('error', (err) => this.fail(err));
    this.socket.on('close', () => {
      // A response without length or chunking ends when the server closes.
      if (this.cb && this.want === -3) { this.finish(this.partial ? this.partial.toString('utf8') : ''); return; }
      this.fail(codedError('connection closed before the response ended', 'ECONNRESET'));
    });
  }

  get busy(): boolean { return this.cb !== undefined; }

  send(wire: string, deadline: number, cb: AnswerCallback): void {
    this.cb = cb;
    this.deadline = deadline;
    this.status = 0;
    this.want = -1;
    this.partial = undefined;
    this.closeAfter = false;
    this.socket.write(wire);
  }

  private fail(err: Error): void {
    const wasAlive = this.alive;
    this.alive = false;
    if (wasAlive) this.pool.dropConn(this);
    const cb = this.cb;
    this.cb = undefined;
    this.partial = undefined;
    if (!this.socket.destroyed) this.socket.destroy();
    if (cb) cb(err, 0, '');
  }

  timeout(): void { this.fail(codedError('no complete response within the timeout', 'ETIMEDOUT')); }
  destroy(err: Error): void { this.fail(err); }

  private onRead(buf: Buffer, n: number): void {
    this.pool.readEvent();
    if (!this.cb) { this.fail(codedError('data without a request', 'ECONNRESET')); return; }
    let d = buf;
    let end = n;
    if (this.partial) { d = Buffer.concat([this.partial, buf.subarray(0, n)]); end = d.length; this.partial = undefined; }
    let start = 0;
    if (this.want === -1) {
      for (;;) {
        let bodyStart: number;
        try { bodyStart = this.parseHead(d, start, end); } catch (err) { this.fail(err as Error); return; }
        if (bodyStart < 0) { this.keep(d, start, end, buf); return; }
        start = bodyStart;
        // 1xx: an interim answer; the real one follows.
        if (this.status >= 200) break;
        this.want = -1;
        this.closeAfter = false;
      }
    }
    if (this.want >= 0) {
      if (end - start < this.want) { this.keep(d, start, end, buf); return; }
      this.finish(this.want === 0 ? '' : d.toString('utf8', start, start + this.want));
    } else if (this.want === -2) {
      let body: string | undefined;
      try { body = dechunk(d, start, end); } catch (err) { this.fail(err as Error); return; }
      if (body === undefined) this.keep(d, start, end, buf);
      else this.finish(body);
    } else this.keep(d, start, end, buf); // -3: the body ends when the server closes ('close' above).
  }

  /** Holds unconsumed bytes for the next read, copying out of the shared read buffer. */
  private keep(d: Buffer, start: number, end: number, shared: Buffer): void {
    if (end <= start) return;
    const rest = d.subarray(start, end);
    this.partial = d === shared ? Buffer.from(rest) : rest;
  }

  /**
   * Parses a head starting at `s`: status, content-length, chunked, connection: close.
   * Returns where the body starts, or -1 while the head is incomplete.
   */
  private parseHead(d: Buffer, s: number, end: number): number {
    // Status line: "HTTP/1.1 200 ...".
    let eol = lineEnd(d, s, end);
    if (eol < 0) return -1;
    if (eol - s < 12) throw codedError('malformed status line', 'ECONNRESET');
    this.status = (d[s + 9]! - 48) * 100 + (d[s + 10]! - 48) * 10 + (d[s + 11]! - 48);
    let length = -1;
    let chunked = false;
    let close = false;
    for (let ls = eol + 2; ; ls = eol + 2) {
      eol = lineEnd(d, ls, end);
      if (eol < 0) return -1;
      if (eol === ls) break;
      const c = d[ls]! | 0x20;
      if (c === 0x63) { // 'c'
        if (startsWithLower(d, ls, eol, CONTENT_LENGTH)) {
          let i = ls + CONTENT_LENGTH.length;
          while (d[i] === 32 || d[i] === 9) i++;
          let v = 0;
          let digits = 0;
          for (; i < eol && d[i]! >= 48 && d[i]! <= 57; i++, digits++) v = v * 10 + d[i]! - 48;
          if (digits) length = v;
        } else if (startsWithLower(d, ls, eol, CONNECTION)) close = containsLower(d, ls + CONNECTION.length, eol, CLOSE);
      } else if (c === 0x74 && startsWithLower(d, ls, eol, TRANSFER_ENCODING)) {
        chunked = containsLower(d, ls + TRANSFER_ENCODING.length, eol, CHUNKED);
      }
    }
    this.closeAfter = close;
    if (length >= 0) this.want = length;
    else if (chunked) this.want = -2;
    else if (this.status === 204 || this.status === 304 || this.status < 200) this.want = 0;
    else { this.want = -3; this.closeAfter = true; }
    return eol + 2;
  }

  private finish(body: string): void {
    const cb = this.cb!;
    // Capture before release(): handing the connection on resets its state.
    const status = this.status;
    this.cb = undefined;
    this.partial = undefined;
    if (this.closeAfter) { this.alive = false; this.pool.dropConn(this); this.socket.destroy(); }
    else this.pool.release(this);
    cb(undefined, status, body);
  }
}

/** Index of the CR of the next CRLF in d[from, end), or -1. */
function lineEnd(d: Buffer, from: number, end: number): number {
  for (let i = from; i < end - 1; i++) if (d[i] === CR && d[i + 1] === LF) return i;
  return -1;
}

/** Chunked body in d[start, end) → string, or undefined while incomplete. */
function dechunk(d: Buffer, start: number, end: number): string | undefined {
  const parts: Buffer[] = [];
  let i = start;
  for (;;) {
    const eol = lineEnd(d, i, end);
    if (eol < 0) return undefined;
    const size = parseInt(d.toString('latin1', i, eol), 16);
    if (Number.isNaN(size)) throw codedError('bad chunk size', 'ECONNRESET');
    if (size === 0) {
      const t = d.subarray(0, end).indexOf(CRLFCRLF, eol - 2);
      return t >= 0 ? Buffer.concat(parts).toString() : undefined;
    }
    if (end < eol + 2 + size + 2) return undefined;
    parts.push(d.subarray(eol + 2, eol + 2 + size));
    i = eol + 2 + size + 2;
  }
}

interface Waiting { wire: string; deadline: number; cb: AnswerCallback }

export class RawPool {
  private readonly idle: Conn[] = [];
  private readonly all = new Set<Conn>();
  private waiting: Waiting[] = [];
  private destroyed = false;
  private sweeper: NodeJS.Timeout | undefined;
  private readonly host: string;
  private readonly port: number;
  readonly hostHeader: string;
  private readonly max: number;
  /** Every socket of the pool reads into this buffer; answers are consumed (or copied) in the read callback. */
  private readonly readBuffer = Buffer.allocUnsafe(64 * 1024);

  // Busy polling (see readEvent): last read, mean gap between reads (ms, EWMA).
  private lastRead = 0;
  private meanGap = 10;
  private polling = false;
  private readonly pollMs = Number(process.env.ORDEAL_LOAD_BUSY_POLL_US ?? 20) / 1000;

  /**
   * When reads come faster than one per `pollMs` (20 µs: above ~50k answers/s), the
   * event loop keeps polling (setImmediate) for up to `pollMs` after each read instead
   * of sleeping in epoll_wait. A sleeping generator must be woken by each answer, and
   * the wakeup is paid on the server's core as well: on the Go bench server it cost
   * ~5% more server CPU per request, i.e. load the generator failed to deliver (50 µs
   * bought no more req/s than 20 µs, for more CPU). Below that rate nothing polls.
   * ORDEAL_LOAD_BUSY_POLL_US=0 turns it off.
   */
  readEvent(): void {
    if (!this.pollMs) return;
    const now = performance.now();
    this.meanGap = this.meanGap * 0.9 + Math.min(now - this.lastRead, 10) * 0.1;
    this.lastRead = now;
    if (!this.polling && this.meanGap < this.pollMs) { this.polling = true; setImmediate(this.poll); }
  }

  private readonly poll = () => {
    if (!this.destroyed && this.meanGap < this.pollMs && performance.now() - this.lastRead < this.pollMs) setImmediate(this.poll);
    else this.polling = false;
  };

  constructor(origin: URL, max: number) {
    this.host = origin.hostname;
    this.port = Number(origin.port || 80);
    this.hostHeader = origin.host;
    this.max = max;
  }

  /** The hot path: `wire` is the complete request text; `now` (performance.now()) saves a clock read. */
  request(wire: string, timeoutMs: number, cb: AnswerCallback, now = performance.now()): void {
    if (this.destroyed) { cb(codedError('client destroyed', 'UND_ERR_DESTROYED'), 0, ''); return; }
    const deadline = now + timeoutMs;
    if (!this.sweeper) this.sweepEvery(timeoutMs);
    const conn = this.idle.pop() ?? (this.all.size < this.max ? this.open() : undefined);
    if (conn) conn.send(wire, deadline, cb);
    else this.waiting.push({ wire, deadline, cb });
  }

  send(req: BuiltRequest, timeoutMs: number): Promise<HttpAnswer> {
    let wire = `${req.method} ${req.path} HTTP/1.1\r\nhost: ${this.hostHeader}\r\n`;
    for (const k in req.headers) wire += `${k}: ${req.headers[k]}\r\n`;
    if (req.body !== undefined) wire += `content-length: ${Buffer.byteLength(req.body)}\r\n\r\n${req.body}`;
    else wire += req.method === 'GET' || req.method === 'DELETE' ? '\r\n' : 'content-length: 0\r\n\r\n';
    return new Promise((resolve, reject) => this.request(wire, timeoutMs, (err, status, body) => (err ? reject(err) : resolve({ status, body }))));
  }

  /**
   * One sweep timer per pool instead of one timer per request: timeouts fire within
   * ~1/10 of the timeout (at most 100 ms) of their deadline, at a fraction of the cost.
   */
  private sweepEvery(timeoutMs: number): void {
    const every = Math.max(5, Math.min(100, timeoutMs / 10));
    this.sweeper = setInterval(() => {
      const now = performance.now();
      let busy = this.waiting.length > 0;
      for (const c of this.all) {
        if (!c.busy) continue;
        if (c.deadline <= now) c.timeout();
        else busy = true;
      }
      if (this.waiting.length && this.waiting[0]!.deadline <= now) {
        const expired = this.waiting.filter((w) => w.deadline <= now);
        this.waiting = this.waiting.filter((w) => w.deadline > now);
        for (const w of expired) w.cb(codedError('queued past the timeout', 'ETIMEDOUT'), 0, '');
      }
      if (!busy) { clearInterval(this.sweeper); this.sweeper = undefined; }
    }, every);
    this.sweeper.unref();
  }

  private open(): Conn {
    const c = new Conn(this, this.host, this.port, this.readBuffer);
    this.all.add(c);
    return c;
  }

  release(c: Conn): void {
    const w = this.waiting.shift();
    if (w) c.send(w.wire, w.deadline, w.cb);
    else this.idle.push(c);
  }

  dropConn(c: Conn): void {
    this.all.delete(c);
    const i = this.idle.indexOf(c);
    if (i >= 0) this.idle.splice(i, 1);
    // A queued request needs a connection: the dropped one made room for a new one.
    if (!this.destroyed && this.waiting.length && this.all.size < this.max) {
      const w = this.waiting.shift()!;
      this.open().send(w.wire, w.deadline, w.cb);
    }
  }

  async destroy(): Promise<void> {
    this.destroyed = true;
    const err = codedError('client destroyed', 'UND_ERR_DESTROYED');
    for (const w of this.waiting.splice(0)) w.cb(err, 0, '');
    for (const c of [...this.all]) c.destroy(err);
    if (this.sweeper) clearInterval(this.sweeper);
  }
}
