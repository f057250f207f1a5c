// `npm run bench:pipeline`: the full reference pipeline (API → PostgreSQL → Stripe
// emulator → outbox → Kafka → stream processor, when the stack has one) at
// increasing open-model arrival rates, on the embedded stack at ORDEAL_PORT_OFFSET.
// Latency is measured from each request's intended send time (coordinated omission
// corrected). Prints the table and writes bench/results/pipeline.json.
//
// Before the measured rates, a warm-up step (--warmup, default 20 s at 1,000/s; 0 skips
// it) runs the same traffic unrecorded, so JIT compilation, connection pools and the
// first PostgreSQL/Kafka allocations are not counted against the first rates. Its
// numbers are reported separately in the output (`warmup`), never as a row. 20 s, not
// 5: on a stack the bench just started, Kafka's JIT compiler threads take about half
// of Kafka's CPU for the first minute, and with a 5 s warm-up the first step above it
// (1,000/s) missed 100 ms in its first second in every run (234-492 ms).
//
//   npm run bench:pipeline -- --rates 250,500,1000,2000 --duration 10s
import '../scripts/stack/use-environment.ts';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Command } from 'commander';
import * as hdr from 'hdr-histogram-js';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import pg from 'pg';
import { RawPool } from '../activities/load/rawhttp.ts';
import { parseDuration } from '../activities/scenario/duration.ts';
import { table } from '../scripts/cli/table.ts';
import { down, loadStackConfig, stackServices, status, up } from '../scripts/stack/index.ts';
import { postgres } from '../scripts/stack/services/postgres.ts';
import { SETTLED_TOPIC, type SettlementEvent } from '../systems/contracts.ts';

interface Row {
  rate: number;
  /** When the row's first send was due: to line a slow second up with other processes' logs. */
  started_at: string;
  achieved: number;
  p50_ms: number;
  p99_ms: number;
  errors: number;
  sent: number;
  ok: number;
  dropped: number;
  /** Only when the stack has a stream processor: settled exactly once, and end-to-end latency (intended send → settled). */
  settled?: number;
  e2e_p50_ms?: number;
  e2e_p99_ms?: number;
  drain_ms?: number;
  /** p99 of the worst second of the row (by intended send time), and how many seconds had a p99 of 100 ms or more. */
  worst_second_p99_ms?: number;
  seconds_p99_over_100ms?: number;
  /** Which second of the row (from its start) was the worst. */
  worst_second_at_s?: number;
  /** The bench's own event-loop delay, max over the row: a stalled generator sends late. */
  generator_loop_delay_max_ms?: number;
  /** Each Node service's worst event-loop delay over the row (prom-client's nodejs_eventloop_lag_max_seconds): which process stalled. */
  service_loop_delay_max_ms?: Record<string, number>;
  /** Mean time per payment in each server-side phase (from the API's /metrics): where latency comes from. */
  api_phase_mean_ms?: Record<string, number>;
}

const opts = new Command('bench:pipeline')
  .option('--rates <list>', 'arrival rates (payments/s), ascending', '250,500,1000,1500,2000,2500,3000')
  .option('--duration <d>', 'time at each rate', '10s')
  .option('--connections <n>', 'HTTP connections to the API', '256')
  .option('--keep-going', 'do not stop at the first saturated rate')
  .option('--warmup <d>', 'unrecorded warm-up before the first rate (0: none)', '20s')
  .option('--warmup-rate <n>', 'arrival rate of the warm-up (payments/s)', '1000')
  .option('--stripe-confirm <mode>', 'on_create (one call, the API default) or separate (create, then confirm); applies when this run starts the API',
    process.env.STRIPE_CONFIRM ?? 'on_create')
  .parse(process.argv)
  .opts<{ rates: string; duration: string; connections: string; keepGoing?: boolean; warmup: string; warmupRate: string; stripeConfirm: string }>();
// Inherited by the processes `up` starts (the stack passes its environment through).
process.env.STRIPE_CONFIRM = opts.stripeConfirm;

const rates = opts.rates.split(',').map(Number).filter((n) => n > 0);
const durationMs = parseDuration(opts.duration);
const warmupMs = opts.warmup === '0' ? 0 : parseDuration(opts.warmup);
const warmupRate = Number(opts.warmupRate);
const config = loadStackConfig();
const hasProcessor = stackServices.some((s) => s.name === 'stream-processor');
const wanted = ['payment-api', ...(hasProcessor ? ['stream-processor'] : [])];

const before = await status({ config, services: stackServices });
const runningBefore = new Set(before.filter((r) => r.state === 'up').map((r) => r.service));
process.stderr.write(`bench:pipeline: stack at ${config.home} (offset ports), bringing up ${wanted.join(', ')}${hasProcessor ? '' : ' (no stream processor in this stack: API → Kafka only)'}\n`);
const rowsUp = await up({ config, services: stackServices, only: wanted });
const startedHere = rowsUp.map((r) => r.service).filter((s) => !runningBefore.has(s));
const apiUrl = `http://127.0.0.1:${config.ports.payment_api}`;
const db = new pg.Pool({ connectionString: postgres.url(config), max: 2 });

const settledAt = new Map<string, number>();
let consumer: Consumer | null = null;
if (hasProcessor) consumer = await startSettledReader();

// How much the stack already holds: the Stripe emulator keeps every PaymentIntent in
// memory, and its major GCs (event-loop stalls of ~100-200 ms at ~1 GB) grow with that.
const stateAtStart = await stackState();
const rows: Row[] = [];
let warmup: Row | undefined;
// One client for the whole run, as a real caller keeps its connections: a fresh pool per
// row made every row open up to --connections new connections in its first second.
// The project's raw keep-alive client (the load generator's), not undici: the generator
// shares the 2 cores with the system it measures, and undici cost ~3x the CPU per request.
const http = new RawPool(new URL(apiUrl), Number(opts.connections));
try {
  if (warmupMs > 0 && warmupRate > 0) {
    warmup = await step(warmupRate, warmupMs);
    process.stderr.write(`  warm-up (not recorded as a row) ${warmupRate}/s for ${warmupMs} ms: p50 ${warmup.p50_ms} ms, p99 ${warmup.p99_ms} ms, errors ${warmup.errors}\n`);
  }
  for (const rate of rates) {
    const row = await step(rate, durationMs);
    rows.push(row);
    process.stderr.write(`  rate ${rate}/s: achieved ${row.achieved}/s, p50 ${row.p50_ms} ms, p99 ${row.p99_ms} ms, errors ${row.errors}` +
      `, worst second p99 ${row.worst_second_p99_ms} ms (second ${row.worst_second_at_s}), ${row.seconds_p99_over_100ms} s with p99 >= 100 ms` +
      `, event loop delayed up to ${row.generator_loop_delay_max_ms} ms in the generator, ${JSON.stringify(row.service_loop_delay_max_ms)} in the services` +
      (hasProcessor ? `, settled ${row.settled}, e2e p99 ${row.e2e_p99_ms} ms` : '') +
      `; API phase means ${JSON.stringify(row.api_phase_mean_ms)}, load average ${loadavg()[0]!.toFixed(1)}\n`);
    const saturated = row.achieved < rate * 0.9 || row.p99_ms > 1000 || row.errors > row.sent * 0.01;
    if (saturated && !opts.keepGoing) {
      process.stderr.write('  saturated: stopping (use --keep-going to run every rate)\n');
      break;
    }
  }
} finally {
  await http.destroy();
  await consumer?.disconnect();
  await db.end();
  if (startedHere.length) await down({ config, services: stackServices, only: startedHere });
}

const under100 = rows.filter((r) => r.p99_ms < 100 && r.errors === 0 && r.achieved >= r.rate * 0.95);
const maxUnder100 = under100.length ? Math.max(...under100.map((r) => r.rate)) : 0;
const result = {
  rows,
  max_rate_p99_under_100ms: maxUnder100,
  // The highest passing row is the headline; lower rows that missed 100 ms are listed
  // beside it rather than hidden (usually one slow second right after a rate step).
  lower_rates_over_100ms: rows.filter((r) => r.rate < maxUnder100 && !under100.includes(r)).map((r) => r.rate),
  // Judged on the 1,000/s row itself (or the first rate above it): a higher row that
  // happened to pass must not hide a failing 1,000/s.
  bar_1000_per_s_p99_under_1s: ((r) => r !== undefined && r.p99_ms < 1000 && r.errors === 0 && r.achieved >= r.rate * 0.95)(
    rows.find((r) => r.rate >= 1000)),
  stack_state_at_start: stateAtStart,
  stripe_confirm: runningBefore.has('payment-api') ? 'as the running API was started' : opts.stripeConfirm,
  pipeline: hasProcessor ? 'api → postgres → stripe-emulator → outbox → kafka → stream-processor' : 'api → postgres → stripe-emulator → outbox → kafka',
  duration_per_rate_ms: durationMs,
  warmup: warmup
    ? { rate: warmupRate, duration_ms: warmupMs, p50_ms: warmup.p50_ms, p99_ms: warmup.p99_ms, errors: warmup.errors,
      note: 'same traffic before the first row, not counted in rows: JIT, connection pools, first allocations' }
    : null,
  machine: {
    cpus: (await import('node:os')).cpus().length,
    load_average_at_end: loadavg()[0],
    note: 'everything co-located; shared with other work, so numbers are noisy',
  },
  at: new Date().toISOString(),
};
mkdirSync(join(config.root, 'bench', 'results'), { recursive: true });
writeFileSync(join(config.root, 'bench', 'results', 'pipeline.json'), JSON.stringify(result, null, 2) + '\n');
const cols = ['RATE', 'ACHIEVED', 'P50_MS', 'P99_MS', 'ERRORS', ...(hasProcessor ? ['SETTLED', 'E2E_P50_MS', 'E2E_P99_MS'] : [])];
process.stdout.write(table(cols, rows.map((r) => [r.rate, r.achieved, r.p50_ms, r.p99_ms, r.errors,
  ...(hasProcessor ? [r.settled ?? 0, r.e2e_p50_ms ?? 0, r.e2e_p99_ms ?? 0] : [])])) + '\n');
process.stdout.write(`max rate with p99 < 100 ms: ${result.max_rate_p99_under_100ms}/s${result.lower_rates_over_100ms.length
  ? ` (lower rates over 100 ms: ${result.lower_rates_over_100ms.map((r) => `${r}/s`).join(', ')})` : ''}; 1,000/s with p99 < 1 s: ${result.bar_1000_per_s_p99_under_1s ? 'holds' : 'does NOT hold'}\n`);

async function step(rate: number, ms: number): Promise<Row> {
  const run = `bench-${rate}-${randomUUID().slice(0, 8)}`;
  const hist = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  const total = Math.round((rate * ms) / 1000);
  const intended = new Map<string, number>();
  let ok = 0;
  let errors = 0;
  let dropped = 0;
  let inFlight = 0;
  const maxInFlight = 8000;
  const pending: Promise<void>[] = [];
  // Latencies by the second of their intended send: a row's p99 is mostly its worst
  // moments (a stall in one process), and these show whether it was one second or all.
  const perSecond: number[][] = [];
  // The generator's own event loop: a stall here delays sends, and latency measured from
  // the intended send time would blame the system under test for it.
  const loopDelay = monitorEventLoopDelay({ resolution: 5 });
  loopDelay.enable();
  // Also resets each service's event-loop-lag maximum (prom-client does on every scrape).
  const before = await scrapeServices();
  const t0 = performance.now() + 50;
  const startedAt = new Date(Date.now() + 50).toISOString();
  let i = 0;
  while (i < total) {
    const now = performance.now();
    // Send everything that is due; never wait for answers (open model).
    while (i < total && t0 + (i * 1000) / rate <= now) {
      const due = t0 + (i * 1000) / rate;
      const id = `${run}-${String(i).padStart(7, '0')}`;
      i++;
      if (inFlight >= maxInFlight) {
        dropped++;
        continue;
      }
      inFlight++;
      intended.set(id, Date.now() - (now - due));
      pending.push(send(http, id, run, i).then((good) => {
        const lat = performance.now() - due;
        hist.recordValue(Math.max(1, Math.round(lat * 1000)));
        (perSecond[Math.floor((due - t0) / 1000)] ??= []).push(lat);
        if (good) ok++;
        else errors++;
      }, () => {
        errors++;
      }).finally(() => { inFlight--; }));
    }
    await sleep(1);
  }
  const sendWindow = (performance.now() - t0) / 1000;
  await Promise.all(pending);
  loopDelay.disable();
  const after = await scrapeServices();
  const secondP99 = Array.from(perSecond, p99Of);
  const row: Row = {
    rate, started_at: startedAt, sent: total - dropped, ok, errors: errors + dropped, dropped,
    achieved: Math.round(ok / sendWindow),
    p50_ms: round(hist.getValueAtPercentile(50) / 1000),
    p99_ms: round(hist.getValueAtPercentile(99) / 1000),
    worst_second_p99_ms: round(Math.max(0, ...secondP99)),
    seconds_p99_over_100ms: secondP99.filter((p) => p >= 100).length,
    worst_second_at_s: Math.max(0, secondP99.indexOf(Math.max(...secondP99))),
    generator_loop_delay_max_ms: round(loopDelay.max / 1e6),
    service_loop_delay_max_ms: after.loopLagMaxMs,
    api_phase_mean_ms: Object.fromEntries([...after.apiPhases].map(([phase, a]) => {
      const b = before.apiPhases.get(phase) ?? { sum: 0, count: 0 };
      return [phase, a.count > b.count ? round(((a.sum - b.sum) / (a.count - b.count)) * 1000) : 0];
    })),
  };
  if (hasProcessor) {
    const drainStart = Date.now();
    const deadline = drainStart + 120_000;
    const settledOf = () => [...intended.keys()].filter((id) => settledAt.has(id)).length;
    while (settledOf() < ok && Date.now() < deadline) await sleep(100);
    const e2e = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3 });
    for (const [id, t] of intended) {
      const s = settledAt.get(id);
      if (s !== undefined) e2e.recordValue(Math.max(1, Math.round((s - t) * 1000)));
    }
    Object.assign(row, {
      settled: settledOf(), drain_ms: Date.now() - drainStart,
      e2e_p50_ms: round(e2e.getValueAtPercentile(50) / 1000), e2e_p99_ms: round(e2e.getValueAtPercentile(99) / 1000),
    });
  } else {
    await waitOutboxDrained();
  }
  hist.destroy();
  return row;
}

function send(http: RawPool, id: string, run: string, i: number): Promise<boolean> {
  const body = JSON.stringify({ message_id: id, amount_cents: 100 + (i % 50_000), currency: 'usd', customer_id: `cust_${i % 1000}`, test_run_id: run });
  const wire = `POST /payments HTTP/1.1\r\nhost: ${http.hostHeader}\r\ncontent-type: application/json\r\nidempotency-key: key-${id}\r\n` +
    `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  return new Promise((resolve, reject) => http.request(wire, 10000, (err, status) => (err ? reject(err) : resolve(status === 201 || status === 200))));
}

async function stackState(): Promise<{ payments: number; stripe_payment_intents: number | null }> {
  const r = await db.query<{ n: string }>('SELECT count(*) AS n FROM payments');
  const stats = await fetch(`http://127.0.0.1:${config.ports.stripe_emulator}/_admin/stats`)
    .then((res) => res.json() as Promise<{ objects?: { payment_intents?: number } }>, () => null);
  return { payments: Number(r.rows[0]!.n), stripe_payment_intents: stats?.objects?.payment_intents ?? null };
}

/**
 * One /metrics scrape of each Node service: the API's per-phase duration sums and counts
 * (where latency comes from), and each service's worst event-loop delay since the
 * previous scrape, in ms (prom-client resets that maximum on every scrape).
 */
async function scrapeServices(): Promise<{ apiPhases: Map<string, { sum: number; count: number }>; loopLagMaxMs: Record<string, number> }> {
  const services: [string, string, string][] = [
    ['payment-api', `${apiUrl}/metrics`, ''],
    ['stripe-emulator', `http://127.0.0.1:${config.ports.stripe_emulator}/metrics`, 'stripe_emulator_'],
    ...(hasProcessor ? [['stream-processor', `http://127.0.0.1:${config.ports.stream_processor}/metrics`, 'stream_processor_'] as [string, string, string]] : []),
  ];
  const texts = await Promise.all(services.map(([, url]) => fetch(url).then((r) => r.text(), () => '')));
  const loopLagMaxMs: Record<string, number> = {};
  services.forEach(([name, , prefix], i) => {
    const m = new RegExp(`^${prefix}nodejs_eventloop_lag_max_seconds (\\S+)$`, 'm').exec(texts[i]!);
    if (m) loopLagMaxMs[name] = round(Number(m[1]) * 1000);
  });
  const apiPhases = new Map<string, { sum: number; count: number }>();
  for (const m of texts[0]!.matchAll(/^payment_phase_duration_seconds_(sum|count)\{phase="(\w+)"\} (\S+)$/gm)) {
    const e = apiPhases.get(m[2]!) ?? { sum: 0, count: 0 };
    e[m[1] as 'sum' | 'count'] = Number(m[3]);
    apiPhases.set(m[2]!, e);
  }
  return { apiPhases, loopLagMaxMs };
}

async function waitOutboxDrained(): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const r = await db.query<{ n: string }>('SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL');
    if (Number(r.rows[0]!.n) === 0) return;
    await sleep(100);
  }
}

/** Reads payments.settled (read_committed) from now on, recording when each message_id settled (broker time). */
async function startSettledReader(): Promise<Consumer> {
  const kafka = new Kafka({ clientId: 'bench-pipeline', brokers: [`127.0.0.1:${config.ports.kafka_proxy}`], logLevel: logLevel.NOTHING });
  const c = kafka.consumer({ groupId: `bench-pipeline-${randomUUID()}`, readUncommitted: false });
  await c.connect();
  await c.subscribe({ topic: SETTLED_TOPIC, fromBeginning: false });
  let joined!: () => void;
  const ready = new Promise<void>((resolve) => { joined = resolve; });
  c.on(c.events.GROUP_JOIN, () => joined());
  await c.run({
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) {
        const ev = JSON.parse(m.value!.toString()) as SettlementEvent;
        if (!settledAt.has(ev.message_id)) settledAt.set(ev.message_id, Number(m.timestamp));
      }
    },
  });
  await ready;
  return c;
}

function p99Of(latencies: number[] | undefined): number {
  if (!latencies?.length) return 0;
  const sorted = [...latencies].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]!;
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
