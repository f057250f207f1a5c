// Test harness for the stream processor: runs it as a child process on topics of its
// own (the stack's processor keeps `payments` for itself), plays the payment API's
// outbox relay (PaymentEvents, key = message_id, with deliberate duplicates), and
// reads `payments.settled` back as a read_committed consumer.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel, Partitioners, type Producer } from 'kafkajs';
import { request } from 'undici';
import { loadStackConfig } from '../../scripts/stack/config.ts';
import type { PaymentEvent, SettlementEvent } from '../../systems/contracts.ts';
import { feeCents, readTopicToEnd, type StreamDefect } from '../../systems/stream-processor/index.ts';

const mainTs = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'systems', 'stream-processor', 'main.ts');

export function kafkaClient(): Kafka {
  return new Kafka({
    clientId: 'ordeal-test-stream',
    brokers: [`127.0.0.1:${loadStackConfig().ports.kafka_proxy}`],
    logLevel: logLevel.NOTHING,
    retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 2000 },
  });
}

export interface Pipeline {
  runId: string;
  input: string;
  output: string;
  state: string;
  group: string;
  prefix: string;
}

export function uniquePipeline(name: string): Pipeline {
  const runId = `${name}-${randomUUID().slice(0, 8)}`;
  return {
    runId,
    input: `test.payments.${runId}`,
    output: `test.payments.settled.${runId}`,
    state: `test.payments.settled.${runId}.dedup-state`,
    group: `test-stream-processor-${runId}`,
    prefix: `test-stream-processor-${runId}`,
  };
}

export const deadLetterTopic = (p: Pipeline) => `${p.input}.dead-letter`;

export async function createTopics(kafka: Kafka, p: Pipeline, partitions = 3): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ waitForLeaders: true, topics: [
      { topic: p.input, numPartitions: partitions },
      { topic: p.output, numPartitions: partitions },
    ] });
  } finally {
    await admin.disconnect();
  }
}

export async function deleteTopics(kafka: Kafka, p: Pipeline): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const topics = [p.input, p.output, p.state, deadLetterTopic(p)].filter((t) => existing.has(t));
    if (topics.length) await admin.deleteTopics({ topics });
  } catch {
    /* the test stack is thrown away anyway */
  } finally {
    await admin.disconnect();
  }
}

/** A processor child process, ended by pid. */
export class ProcessorChild {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly lines: string[] = [];
  port = 0;
  private exited: Promise<number | null>;

  private constructor(child: ChildProcess) {
    this.child = child;
    this.pid = child.pid!;
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    // A chunk may end mid-line: keep the partial line until its end arrives.
    const lineReader = () => {
      let partial = '';
      return (chunk: Buffer) => {
        const parts = (partial + chunk.toString('utf8')).split('\n');
        partial = parts.pop() ?? '';
        for (const line of parts) {
          if (!line) continue;
          this.lines.push(line);
          if (this.lines.length > 300) this.lines.shift();
          if (!this.port && line.includes('"http listening"')) {
            try {
              this.port = (JSON.parse(line) as { port: number }).port;
            } catch {
              /* not the processor's JSON line after all */
            }
          }
        }
      };
    };
    child.stdout!.on('data', lineReader());
    child.stderr!.on('data', lineReader());
  }

  static start(p: Pipeline, defects: readonly StreamDefect[] = []): ProcessorChild {
    const child = spawn(process.execPath, ['--disable-warning=TimeoutNegativeWarning', mainTs,
      '--brokers', `127.0.0.1:${loadStackConfig().ports.kafka_proxy}`, '--port', '0',
      '--input-topic', p.input, '--output-topic', p.output, '--state-topic', p.state,
      '--group', p.group, '--transactional-id-prefix', p.prefix], {
      env: { ...process.env, ORDEAL_DEFECTS: defects.join(','), LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new ProcessorChild(child);
  }

  alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  tail(n = 25): string {
    return this.lines.slice(-n).join('\n');
  }

  async waitHealthy(timeoutMs = 60000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = 'no answer yet';
    while (Date.now() < deadline) {
      if (!this.alive()) throw new Error(`processor ${this.pid} exited (${this.child.exitCode ?? this.child.signalCode}):\n${this.tail()}`);
      if (this.port) {
        try {
          const res = await request(`http://127.0.0.1:${this.port}/health`, { headersTimeout: 2000, bodyTimeout: 2000 });
          last = `${res.statusCode} ${await res.body.text()}`;
          if (res.statusCode === 200) return;
        } catch (err) {
          last = err instanceof Error ? err.message : String(err);
        }
      }
      await sleep(100);
    }
    throw new Error(`processor ${this.pid} not healthy after ${timeoutMs} ms (last: ${last}):\n${this.tail()}`);
  }

  async metrics(): Promise<Map<string, number>> {
    // Generous: on a loaded 2-core machine a busy processor can take seconds to answer.
    // One slow answer is retried: a starved CI machine is not a processor bug.
    let res;
    for (let attempt = 1; ; attempt++) {
      try {
        res = await request(`http://127.0.0.1:${this.port}/metrics`, { headersTimeout: 15000, bodyTimeout: 15000 });
        break;
      } catch (err) {
        if (attempt >= 3) throw err;
      }
    }
    const out = new Map<string, number>();
    for (const line of (await res.body.text()).split('\n')) {
      if (!line || line.startsWith('#')) continue;
      const i = line.lastIndexOf(' ');
      out.set(line.slice(0, i), Number(line.slice(i + 1)));
    }
    return out;
  }

  async kill(): Promise<void> {
    if (!this.alive()) return;
    process.kill(this.pid, 'SIGKILL');
    await this.exited;
  }

  /** SIGTERM, then SIGKILL if it does not exit; returns the exit code (null when killed). */
  async stop(graceMs = 30000): Promise<number | null> {
    if (!this.alive()) return this.child.exitCode;
    process.kill(this.pid, 'SIGTERM');
    const code = await Promise.race([this.exited, sleep(graceMs, undefined, { ref: false }).then(() => 'timeout' as const)]);
    if (code === 'timeout') {
      await this.kill();
      throw new Error(`processor ${this.pid} ignored SIGTERM for ${graceMs} ms:\n${this.tail()}`);
    }
    return code;
  }
}

/** Deterministic PaymentEvents for a run. */
export function makeEvents(runId: string, from: number, count: number): PaymentEvent[] {
  const out: PaymentEvent[] = [];
  for (let i = from; i < from + count; i++) {
    out.push({
      message_id: `${runId}-${i}`,
      payment_id: `pay_${runId}_${i}`,
      test_run_id: runId,
      amount_cents: 100 + ((i * 7919) % 49901),
      currency: i % 5 === 0 ? 'eur' : 'usd',
      customer_id: `cus_${i % 97}`,
      stripe_payment_intent_id: `pi_${runId}_${i}`,
      created_at: new Date(1_790_000_000_000 + i).toISOString(),
    });
  }
  return out;
}

/** The relay's side: an idempotent producer, key = message_id. */
export class Relay {
  readonly sent = new Map<string, PaymentEvent>();
  duplicatesSent = 0;
  private readonly producer: Producer;
  private next = 0;
  private readonly topic: string;
  private readonly runId: string;

  constructor(kafka: Kafka, p: Pipeline) {
    this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
    this.topic = p.input;
    this.runId = p.runId;
  }

  connect(): Promise<void> {
    return this.producer.connect();
  }

  disconnect(): Promise<void> {
    return this.producer.disconnect();
  }

  /** Records that are not PaymentEvents: they must go to the dead-letter topic, once each, and stop nothing. */
  async sendPoison(): Promise<number> {
    const bad = { ...makeEvents(this.runId, 1_000_000, 1)[0]!, amount_cents: -5 };
    await this.producer.send({ topic: this.topic, messages: [
      { key: 'poison-1', value: 'not json {' },
      { key: 'poison-2', value: JSON.stringify(bad) },
      { key: 'poison-3', value: null },
    ] });
    return 3;
  }

  /** Sends `count` new events plus about `dupRate` of that many re-sends of events sent at any earlier time. */
  async send(count: number, dupRate = 0.1): Promise<void> {
    const fresh = makeEvents(this.runId, this.next, count);
    this.next += count;
    for (const e of fresh) this.sent.set(e.message_id, e);
    const all = [...this.sent.values()];
    const dups: PaymentEvent[] = [];
    for (let i = 0; i < Math.round(count * dupRate); i++) dups.push(all[Math.floor(Math.random() * all.length)]!);
    this.duplicatesSent += dups.length;
    const messages = [...fresh, ...dups].map((e) => ({ key: e.message_id, value: JSON.stringify(e) }));
    await this.producer.send({ topic: this.topic, messages });
  }
}

/** Consumer lag of the group on a topic: high watermark minus committed offset, summed. */
export async function groupLag(kafka: Kafka, group: string, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    // Committed first: read the other way round, a fast consumer's commit can overtake the high watermark read.
    const committed = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    const high = await admin.fetchTopicOffsets(topic);
    const done = new Map(committed[0]?.partitions.map((c) => [c.partition, Number(c.offset)]) ?? []);
    return high.reduce((sum, h) => sum + Number(h.high) - Math.max(done.get(h.partition) ?? -1, Number(h.low)), 0);
  } finally {
    await admin.disconnect();
  }
}

export async function waitLagZero(kafka: Kafka, p: Pipeline, child: ProcessorChild, timeoutMs = 90000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lag = -1;
  while (Date.now() < deadline) {
    lag = await groupLag(kafka, p.group, p.input);
    if (lag === 0) return;
    if (!child.alive()) throw new Error(`processor died while draining (lag ${lag}):\n${child.tail()}`);
    await sleep(250);
  }
  throw new Error(`consumer lag still ${lag} after ${timeoutMs} ms:\n${child.tail()}`);
}

export interface Verdict {
  expected: number;
  settledRecords: number;
  ok: number;
  missing: string[];
  duplicated: string[];
  ghosts: string[];
  mismatched: string[];
}

/** Reads the output topic as read_committed and classifies every expected message. */
export async function verify(kafka: Kafka, p: Pipeline, expected: Map<string, PaymentEvent>): Promise<Verdict> {
  const seen = new Map<string, SettlementEvent[]>();
  const { records } = await readTopicToEnd(kafka, p.output, (_partition, m) => {
    const s = JSON.parse(m.value!.toString('utf8')) as SettlementEvent;
    const list = seen.get(s.message_id) ?? [];
    list.push(s);
    seen.set(s.message_id, list);
  }, { timeoutMs: 60000 });
  const v: Verdict = { expected: expected.size, settledRecords: records, ok: 0, missing: [], duplicated: [], ghosts: [], mismatched: [] };
  for (const [id, e] of expected) {
    const got = seen.get(id);
    if (!got) { v.missing.push(id); continue; }
    if (got.length > 1) { v.duplicated.push(id); continue; }
    const s = got[0]!;
    const fee = feeCents(e.amount_cents);
    if (s.amount_cents !== e.amount_cents || s.currency !== e.currency || s.fee_cents !== fee || s.net_cents !== e.amount_cents - fee
      || s.payment_id !== e.payment_id || s.test_run_id !== e.test_run_id) {
      v.mismatched.push(id);
      continue;
    }
    v.ok++;
  }
  for (const id of seen.keys()) if (!expected.has(id)) v.ghosts.push(id);
  return v;
}

export function summary(v: Verdict): string {
  const few = (xs: string[]) => `${xs.length}${xs.length ? ` (e.g. ${xs.slice(0, 3).join(', ')})` : ''}`;
  return `expected ${v.expected}, settled records ${v.settledRecords}, ok ${v.ok}, missing ${few(v.missing)}, ` +
    `duplicated ${few(v.duplicated)}, ghosts ${few(v.ghosts)}, mismatched ${few(v.mismatched)}`;
}

/** Data records a read_uncommitted reader sees beyond the committed ones: records of aborted transactions. */
export async function abortedRecords(kafka: Kafka, p: Pipeline, committedRecords: number): Promise<number> {
  const { records } = await readTopicToEnd(kafka, p.output, () => {}, { readUncommitted: true, timeoutMs: 60000 });
  return records - committedRecords;
}

/** Every distinct PaymentEvent that reached the input topic: the processor's ground truth. */
export async function inputEvents(kafka: Kafka, p: Pipeline): Promise<Map<string, PaymentEvent>> {
  const out = new Map<string, PaymentEvent>();
  await readTopicToEnd(kafka, p.input, (_partition, m) => {
    const e = JSON.parse(m.value!.toString('utf8')) as PaymentEvent;
    out.set(e.message_id, e);
  }, { timeoutMs: 60000 });
  return out;
}

export async function countRecords(kafka: Kafka, topic: string): Promise<number> {
  return (await readTopicToEnd(kafka, topic, () => {}, { timeoutMs: 60000 })).records;
}

/** Sum of a metric over all its label sets. */
export function metricSum(m: Map<string, number>, name: string): number {
  let sum = 0;
  for (const [k, v] of m) if (k === name || k.startsWith(`${name}{`)) sum += v;
  return sum;
}

export function randomBetween(minMs: number, maxMs: number): number {
  return minMs + Math.floor(Math.random() * (maxMs - minMs));
}

/**
 * True when a Kafka broker answers on this port within timeoutMs: a raw ApiVersions
 * (v0) request, no client library, so nothing is retried or cached. False when the
 * connection is refused, reset or the answer never comes (a cut or blackholed proxy).
 */
export function kafkaAnswers(port: number, timeoutMs = 1500): Promise<boolean> {
  const clientId = Buffer.from('ordeal-probe');
  const req = Buffer.alloc(4 + 10 + clientId.length);
  req.writeInt32BE(req.length - 4, 0);
  req.writeInt16BE(18, 4); // ApiVersions
  req.writeInt16BE(0, 6); // v0
  req.writeInt32BE(1, 8); // correlation id
  req.writeInt16BE(clientId.length, 12);
  clientId.copy(req, 14);
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port });
    let got = 0;
    const done = (answered: boolean) => { clearTimeout(timer); sock.destroy(); resolve(answered); };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.once('connect', () => sock.write(req));
    // The response's size prefix and correlation id are enough to know the broker spoke.
    sock.on('data', (b: Buffer) => { got += b.length; if (got >= 8) done(true); });
    sock.once('error', () => done(false));
    sock.once('close', () => done(got >= 8));
  });
}

/** A pipeline of this test's own (topics created now, deleted after the test) and a connected relay for it. */
export async function openPipeline(t: TestContext, kafka: Kafka, name: string): Promise<{ p: Pipeline; relay: Relay }> {
  const p = uniquePipeline(name);
  await createTopics(kafka, p);
  const relay = new Relay(kafka, p);
  await relay.connect();
  t.after(async () => {
    const t0 = Date.now();
    await relay.disconnect();
    await deleteTopics(kafka, p);
    t.diagnostic(`cleanup took ${Date.now() - t0} ms`);
  });
  return { p, relay };
}

/**
 * The relay streaming `batch` payments every 100 ms until stopped. A failed send fails
 * the stream (stop() rejects) unless `tolerateErrors`: then it is counted and the
 * stream goes on (what counts then is what reached the topic).
 */
export function streamPayments(relay: Relay, batch: number, tolerateErrors = false): { stop: () => Promise<void>; errors: () => number } {
  let producing = true;
  let errors = 0;
  const running = (async () => {
    while (producing) {
      await (tolerateErrors ? relay.send(batch).catch(() => { errors++; }) : relay.send(batch));
      await sleep(100);
    }
  })();
  return { stop: async () => { producing = false; await running; }, errors: () => errors };
}

/** The end of a run: the group caught up, the processor stopped gracefully; its last metrics. */
export async function drainAndStop(kafka: Kafka, p: Pipeline, child: ProcessorChild): Promise<Map<string, number>> {
  await waitLagZero(kafka, p, child);
  const m = await child.metrics();
  assert.equal(await child.stop(), 0, `graceful stop failed:\n${child.tail()}`);
  return m;
}
