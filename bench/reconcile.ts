// `npm run bench:reconcile [-- --messages 10000000 --sources 3]`: the reconcile
// engine against synthetic sources of full size, in this process: an outcome log
// of N rows and S systems of record of ~N records each, with planted losses,
// duplicates, ghosts, mismatches and unacknowledged messages. Prints wall time and
// peak RSS, and fails when a planted anomaly is not counted exactly.
// Synthetic sources generate their records on the fly (no I/O), so this measures
// the engine plus record creation; a real source adds its driver's parsing cost.
// With --real, two of the sources are real: a PostgreSQL table (the dev stack's
// payments database, via its proxy) and a Kafka topic, seeded once per size and
// reused by later runs (the seeding is not timed); the outcome log stays synthetic.
import os from 'node:os';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { Command } from 'commander';
import { ledgerEntry } from '../activities/ledger/index.ts';
import type { LedgerSpec } from '../activities/ledger/index.ts';
import { buildSource, reconcileSourceSchema, reconcileStreams } from '../activities/reconcile/index.ts';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import '../scripts/stack/use-environment.ts';
import { loadStackConfig } from '../scripts/stack/config.ts';
import { embeddedSystem } from '../scripts/stack/system-file.ts';
import { kafka as kafkaService } from '../scripts/stack/services/kafka.ts';
import { postgres as postgresService } from '../scripts/stack/services/postgres.ts';
import type { OutcomeRecord, OutcomeSource, RecordSource } from '../activities/reconcile/index.ts';

const opts = new Command()
  .option('--messages <n>', 'ledger entries', (v) => Number(v), 10_000_000)
  .option('--sources <n>', 'systems of record', (v) => Number(v), 3)
  .option('--batch <n>', 'records per source batch', (v) => Number(v), 10_000)
  .option('--real', 'read a real PostgreSQL table and Kafka topic of the dev stack (seeded on first use)', false)
  .parse()
  .opts<{ messages: number; sources: number; batch: number; real: boolean }>();

const runId = 'bench-run';
const spec: LedgerSpec = { messages: opts.messages, seed: 7, amount_cents: [100, 50_000], currency: ['usd', 'eur'], customers: 1000 };
const n = opts.messages;

// Planted anomalies: disjoint residues so each message has at most one.
const UNACK = 1009; // outcome unknown (present once: fine) ...
const MISSING = 10_007; // ... and among those, absent: missing (seq % UNACK === 0 && seq % MISSING === 0 is rare; kept disjoint below)
const LOST = 100_003;
const DUP = 100_019;
const MISMATCH = 100_043;
const GHOSTS = 1000;

function kind(seq: number): 'unack' | 'missing' | 'lost' | 'dup' | 'mismatch' | 'ok' {
  if (seq % LOST === 7) return 'lost';
  if (seq % DUP === 11) return 'dup';
  if (seq % MISMATCH === 13) return 'mismatch';
  if (seq % MISSING === 17) return 'missing';
  if (seq % UNACK === 19) return 'unack';
  return 'ok';
}

const outcomeSource: OutcomeSource = {
  async *outcomes() {
    for (let from = 0; from < n; from += opts.batch) {
      const batch: OutcomeRecord[] = [];
      for (let seq = from; seq < Math.min(n, from + opts.batch); seq++) {
        const k = kind(seq);
        const e = ledgerEntry(runId, spec, seq);
        batch.push({ message_id: e.message_id, outcome: k === 'unack' || k === 'missing' ? 'unknown' : 'acknowledged' });
      }
      yield batch;
    }
  },
};

function syntheticSource(name: string): RecordSource {
  return {
    name,
    kind: 'synthetic',
    async read(_runId, sink) {
      for (let from = 0; from < n; from += opts.batch) {
        for (let seq = from; seq < Math.min(n, from + opts.batch); seq++) {
          const k = kind(seq);
          if (k === 'lost' || k === 'missing') continue;
          const e = ledgerEntry(runId, spec, seq);
          sink.add(e.message_id, k === 'mismatch' ? e.amount_cents + 1 : e.amount_cents, e.currency);
          if (k === 'dup') sink.add(e.message_id, e.amount_cents, e.currency);
        }
        await yieldToLoop(); // as a real source does between fetches
      }
      for (let g = 0; g < GHOSTS; g++) sink.add(`ghost-${g}`, 100, 'usd');
    },
  };
}

function expected(): Record<string, number> {
  const c = { lost: 0, duplicated: 0, mismatched: 0, missing: 0, unacknowledged: 0, ghost: GHOSTS };
  for (let seq = 0; seq < n; seq++) {
    const k = kind(seq);
    if (k === 'lost') c.lost++;
    else if (k === 'dup') c.duplicated++;
    else if (k === 'mismatch') c.mismatched++;
    else if (k === 'missing') c.missing++;
    else if (k === 'unack') c.unacknowledged++;
  }
  return c;
}

/** Each planted record of one seq, as a system of record would hold it (ghosts at the end). */
function* plantedRecords(): Generator<{ message_id: string; amount_cents: number; currency: string }> {
  for (let seq = 0; seq < n; seq++) {
    const k = kind(seq);
    if (k === 'lost' || k === 'missing') continue;
    const e = ledgerEntry(runId, spec, seq);
    yield { message_id: e.message_id, amount_cents: k === 'mismatch' ? e.amount_cents + 1 : e.amount_cents, currency: e.currency };
    if (k === 'dup') yield { message_id: e.message_id, amount_cents: e.amount_cents, currency: e.currency };
  }
  for (let g = 0; g < GHOSTS; g++) yield { message_id: `ghost-${g}`, amount_cents: 100, currency: 'usd' };
}

async function realSources(): Promise<RecordSource[]> {
  const stack = loadStackConfig();
  const table = `bench_reconcile_${n}`;
  const topic = `bench-reconcile-${n}`;
  let expectedRows = 0;
  for (const _ of plantedRecords()) expectedRows++;
  const client = new pg.Client({ connectionString: postgresService.url(stack) });
  await client.connect();
  try {
    await client.query(`CREATE TABLE IF NOT EXISTS ${table} (message_id text, test_run_id text, amount_cents bigint, currency text)`);
    const have = Number((await client.query<{ c: string }>(`SELECT count(*) AS c FROM ${table}`)).rows[0]!.c);
    if (have !== expectedRows) {
      console.log(`seeding ${expectedRows.toLocaleString('en')} rows into ${table} (once)...`);
      await client.query(`TRUNCATE ${table}`);
      let batch: { message_id: string; amount_cents: number; currency: string }[] = [];
      const flush = async () => {
        await client.query(`INSERT INTO ${table} SELECT m, $1, a, c FROM unnest($2::text[], $3::bigint[], $4::text[]) AS u(m, a, c)`,
          [runId, batch.map((r) => r.message_id), batch.map((r) => r.amount_cents), batch.map((r) => r.currency)]);
        batch = [];
      };
      for (const r of plantedRecords()) {
        batch.push(r);
        if (batch.length === 50_000) await flush();
      }
      if (batch.length) await flush();
    }
  } finally {
    await client.end();
  }
  const kafka = new Kafka({ clientId: 'ordeal-bench', brokers: [kafkaService.url(stack)], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topics = await admin.listTopics();
    const offsets = topics.includes(topic) ? await admin.fetchTopicOffsets(topic) : [];
    const have = offsets.reduce((a, o) => a + Number(o.high) - Number(o.low), 0);
    if (have !== expectedRows) {
      console.log(`seeding ${expectedRows.toLocaleString('en')} messages into topic ${topic} (once)...`);
      if (topics.includes(topic)) await admin.deleteTopics({ topics: [topic] });
      await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
      const producer = kafka.producer({ allowAutoTopicCreation: false });
      await producer.connect();
      let batch: { value: string }[] = [];
      const flush = async () => {
        await producer.send({ topic, acks: 1, messages: batch });
        batch = [];
      };
      for (const r of plantedRecords()) {
        batch.push({ value: JSON.stringify({ ...r, test_run_id: runId }) });
        if (batch.length === 10_000) await flush();
      }
      if (batch.length) await flush();
      await producer.disconnect();
    }
  } finally {
    await admin.disconnect();
  }
  const specs = [
    { source: 'postgres', name: 'postgres', query: `SELECT message_id, amount_cents, currency FROM ${table} WHERE test_run_id = $1` },
    { source: 'kafka', name: 'kafka', topic, timeout: 600_000 },
  ].map((x) => reconcileSourceSchema.parse(x));
  return specs.map((x) => buildSource(x, embeddedSystem(stack)));
}

const sources = opts.real
  ? [...await realSources(), ...Array.from({ length: Math.max(0, opts.sources - 2) }, (_, i) => syntheticSource(`synthetic-${i + 1}`))]
  : Array.from({ length: opts.sources }, (_, i) => syntheticSource(`source-${i + 1}`));

let peakHeap = 0;
let peakSampledRss = 0;
const sampler = setInterval(() => {
  const m = process.memoryUsage();
  peakHeap = Math.max(peakHeap, m.heapUsed);
  peakSampledRss = Math.max(peakSampledRss, m.rss);
}, 50);
const rssBefore = process.memoryUsage().rss;
const t0 = performance.now();
const cpu0 = process.cpuUsage();
const result = await reconcileStreams(runId, spec, outcomeSource, sources);
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
clearInterval(sampler);
// Lifetime peak (includes seeding in --real mode when it ran in this process), and the peak sampled during reconciliation.
const peakRss = opts.real ? Math.max(peakSampledRss, process.memoryUsage().rss) : process.resourceUsage().maxRSS * 1024;

const want = expected();
let wrong = 0;
for (const s of result.sources) {
  for (const [cls, count] of Object.entries(want)) {
    const got = s.classes[cls as keyof typeof s.classes].count;
    if (got !== count) {
      wrong++;
      console.error(`WRONG ${s.source} ${cls}: got ${got}, planted ${count}`);
    }
  }
}
const records = result.sources.reduce((a, s) => a + s.records, 0);
const mb = (b: number) => `${(b / 1024 / 1024).toFixed(0)} MB`;
console.log(`reconcile bench: ${n.toLocaleString('en')} ledger entries, ${opts.sources} sources, ${records.toLocaleString('en')} source records + ${n.toLocaleString('en')} outcomes`);
console.log(`  time      ${seconds.toFixed(1)} s wall, ${cpuSeconds.toFixed(1)} s CPU  (${Math.round((records + n) / seconds).toLocaleString('en')} rows/s; load average ${os.loadavg()[0]!.toFixed(1)} on ${os.availableParallelism()} cores)`);
console.log(`  peak RSS  ${mb(peakRss)}  (${opts.real ? 'sampled every 50 ms during reconciliation' : 'process maximum'}; at start ${mb(rssBefore)}; peak JS heap ${mb(peakHeap)})`);
console.log(`  sources   ${result.sources.map((s) => `${s.source} ${s.records.toLocaleString('en')} records in ${(s.duration_ms / 1000).toFixed(1)} s`).join('; ')}`);
console.log(`  classes   ${Object.entries(result.sources[0]!.classes).map(([c, t]) => `${c}=${t.count}`).join(' ')}`);
console.log(`  planted anomalies counted exactly: ${wrong === 0 ? 'yes' : `NO (${wrong} wrong)`}`);
console.log(`  targets   < 60 s: ${seconds < 60 ? 'met' : 'MISSED'}, < 1 GB RSS: ${peakRss < 1024 ** 3 ? 'met' : 'MISSED'}`);
process.exitCode = wrong === 0 && seconds < 60 && peakRss < 1024 ** 3 ? 0 : 1;
