// The emulator's write-ahead journal: one JSON line per committed change, appended
// before the response is sent (group commit: the lines of all requests that arrive
// while a write is in progress go out in the next single write). A process kill
// loses nothing that was answered: the lines are in the kernel's page cache before
// the answer leaves. `fsync: true` also survives a machine crash, at a cost.
// At open the journal is replayed and rewritten compacted (latest state only).
import { createReadStream, existsSync, fsyncSync, openSync, closeSync, renameSync, statSync, truncateSync, writeSync, mkdirSync, fdatasync, write } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';

export interface JournalOptions {
  path: string;
  fsync: boolean;
}

export interface ReplayResult {
  lines: number;
  /** Bytes of a torn last line (a kill in the middle of a write), cut off. */
  truncatedBytes: number;
}

export class Journal {
  readonly path: string;
  private readonly fsync: boolean;
  private fd = -1;
  private pending: string[] = [];
  private pendingWaiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private flushing = false;
  private scheduled = false;
  private failure: Error | undefined;
  bytes = 0;
  linesWritten = 0;
  writes = 0;

  constructor(opts: JournalOptions) {
    this.path = opts.path;
    this.fsync = opts.fsync;
  }

  /** Reads every complete line; a torn tail (no trailing newline, or unparsable last line) is cut off. */
  async replay(onEntry: (entry: unknown) => void): Promise<ReplayResult> {
    if (!existsSync(this.path)) return { lines: 0, truncatedBytes: 0 };
    const size = statSync(this.path).size;
    let goodBytes = 0;
    let lines = 0;
    let lineNo = 0;
    let badLine: string | undefined;
    const rl = createInterface({ input: createReadStream(this.path, { encoding: 'utf8' }), crlfDelay: Infinity });
    for await (const line of rl) {
      lineNo++;
      if (badLine !== undefined) {
        throw new Error(`journal ${this.path}: line ${lineNo - 1} is corrupt and is not the last line; refusing to guess (${badLine.slice(0, 120)})`);
      }
      if (line === '') { goodBytes += 1; continue; }
      let entry: unknown;
      try {
        entry = JSON.parse(line);
      } catch {
        badLine = line;
        continue;
      }
      onEntry(entry);
      lines++;
      goodBytes += Buffer.byteLength(line) + 1;
    }
    // A final line without its newline may be complete JSON yet was never acknowledged
    // as written in full; it parsed, so keep it, but make the file end in a newline.
    let truncatedBytes = 0;
    if (goodBytes > size) goodBytes = size;
    if (goodBytes < size) {
      truncatedBytes = size - goodBytes;
      truncateSync(this.path, goodBytes);
    }
    return { lines, truncatedBytes };
  }

  /** Replaces the journal by `lines` (the compacted state), atomically, then opens it for appending. */
  openCompacted(lines: Iterable<string>): void {
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = join(dirname(this.path), `.${Date.now()}.compact.tmp`);
    const fd = openSync(tmp, 'w');
    let bytes = 0;
    try {
      let chunk: string[] = [];
      let chunkLen = 0;
      const flush = () => {
        if (chunk.length === 0) return;
        bytes += writeFully(fd, Buffer.from(chunk.join(''), 'utf8'));
        chunk = [];
        chunkLen = 0;
      };
      for (const line of lines) {
        chunk.push(line, '\n');
        chunkLen += line.length + 1;
        if (chunkLen > 1 << 20) flush();
      }
      flush();
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
    const dirFd = openSync(dirname(this.path), 'r');
    try { fsyncSync(dirFd); } finally { closeSync(dirFd); }
    this.fd = openSync(this.path, 'a');
    this.bytes = bytes;
  }

  /** Appends lines; resolves once they are written (and synced when fsync is on). */
  append(lines: string[]): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    for (const l of lines) this.pending.push(l, '\n');
    return new Promise((resolve, reject) => {
      this.pendingWaiters.push({ resolve, reject });
      this.schedule();
    });
  }

  /** Resolves when everything appended so far is written: reads wait on it so they never show unjournaled state. */
  barrier(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.pending.length === 0 && !this.flushing) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.pendingWaiters.push({ resolve, reject });
      this.schedule();
    });
  }

  get failed(): Error | undefined {
    return this.failure;
  }

  private schedule(): void {
    if (this.scheduled || this.flushing) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.flushing || this.pendingWaiters.length === 0) return;
    this.flushing = true;
    const data = Buffer.from(this.pending.join(''), 'utf8');
    const waiters = this.pendingWaiters;
    const lineCount = this.pending.length / 2;
    this.pending = [];
    this.pendingWaiters = [];
    const done = (err: Error | null) => {
      this.flushing = false;
      if (err) {
        this.failure = new Error(`journal ${this.path}: write failed (${err.message}); state after this point is not durable`, { cause: err });
        for (const w of waiters) w.reject(this.failure);
        for (const w of this.pendingWaiters) w.reject(this.failure);
        this.pendingWaiters = [];
        this.pending = [];
        return;
      }
      this.bytes += data.length;
      this.linesWritten += lineCount;
      this.writes++;
      for (const w of waiters) w.resolve();
      if (this.pendingWaiters.length > 0) this.schedule();
    };
    if (data.length === 0) { done(null); return; }
    const writeFrom = (offset: number) => {
      write(this.fd, data, offset, data.length - offset, null, (err, n) => {
        if (err) { done(err); return; }
        if (offset + n < data.length) { writeFrom(offset + n); return; }
        if (this.fsync) fdatasync(this.fd, (e) => done(e));
        else done(null);
      });
    };
    if (this.fd < 0) { done(new Error('journal is not open')); return; }
    writeFrom(0);
  }

  /** Waits for pending writes, then closes the file. */
  async close(): Promise<void> {
    if (this.fd < 0) return;
    try { await this.barrier(); } catch { /* the failure is already reported */ }
    try { fsyncSync(this.fd); } catch { /* best effort */ }
    closeSync(this.fd);
    this.fd = -1;
  }
}

function writeFully(fd: number, buf: Buffer): number {
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
  return buf.length;
}
