// Stripe emulator throughput and latency on this machine: the emulator in its own
// process (as in the stack), driven over loopback with the request mix the payment
// API sends (create with an idempotency key, then confirm), plus searches.
//   npm run bench:stripe-emulator [-- --seconds 10 --rates 1000,2000,4000 --concurrency 64]
// Prints a table; writes bench/results/stripe-emulator.json. Numbers are noisy when
// the machine is shared.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Command } from 'commander';
import * as hdr from 'hdr-histogram-js';
import { Pool } from 'undici';
import { repoRoot } from '../scripts/stack/config.ts';
import { cpuSeconds } from '../process-table/index.ts';

const o = new Command()
  .option('--seconds <n>', 'duration of each step', (v) => Number(v), 8)
  .option('--rates <list>', 'open-model request rates to try (req/s)', '1000,2000,3000,4000')
  .option('--concurrency <n>', 'connections', (v) => Number(v), 64)
  .option('--fsync', 'run the emulator with --fsync', false)
  .parse()
  .opts<{ seconds: number; rates: string; concurrency: number; fsync: boolean }>();

const dataDir = mkdtempSync(join(tmpdir(), 'ordeal-stripe-bench-'));
const proc = spawn(process.execPath, [join(repoRoot, 'systems/stripe-emulator/main.ts'), '--data-dir', dataDir, '--port', '0',
  '--log-level', 'info', ...(o.fsync ? ['--fsync'] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
// Never leave the emulator behind, whatever ends this script.
process.on('exit', () => { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL'); });
const port = await new Promise<number>((resolve, reject) => {
  proc.once('exit', (c) => reject(new Error(`emulator exited with ${c}`)));
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    const m = /"msg":"stripe emulator listening"/.test(line) ? /"port":(\d+)/.exec(line) : null;
    if (m) resolve(Number(m[1]));
  });
});
const base = `http://127.0.0.1:${port}`;
const pool = new Pool(base, { connections: o.concurrency, pipelining: 1 });
const headers = { authorization: 'Bearer sk_test_bench', 'content-type': 'application/x-www-form-urlencoded', 'stripe-version': '2025-01-27.acacia' };

let seq = 0;
/** One payment as the payment API makes it: create (keyed), confirm (keyed); every 20th message also a search. */
async function payment(): Promise<number> {
  const n = seq++;
  let errors = 0;
  const create = await pool.request({ method: 'POST', path: '/v1/payment_intents', headers: { ...headers, 'idempotency-key': `bench-${n}` },
    body: `amount=${100 + (n % 5000)}&currency=usd&metadata[test_run_id]=bench&metadata[message_id]=m-${n}` });
  const pi = (await create.body.json()) as { id: string };
  if (create.statusCode !== 200) errors++;
  const confirm = await pool.request({ method: 'POST', path: `/v1/payment_intents/${pi.id}/confirm`,
    headers: { ...headers, 'idempotency-key': `bench-${n}-confirm` }, body: 'payment_method=pm_card_visa' });
  await confirm.body.dump();
  if (confirm.statusCode !== 200) errors++;
  if (n % 20 === 0) {
    const s = await pool.request({ method: 'GET', path: `/v1/payment_intents/search?query=${encodeURIComponent(`metadata['message_id']:'m-${n}'`)}`, headers });
    await s.body.dump();
    if (s.statusCode !== 200) errors++;
  }
  return errors;
}

interface Row { rate_req_s: number; achieved_req_s: number; p50_ms: number; p99_ms: number; max_ms: number; errors: number; emulator_cpu_us_per_req: number }

/** The emulator's CPU seconds so far (user + system): per-request cost is what a busy machine cannot distort much. */
function emulatorCpuSeconds(): number {
  return cpuSeconds(proc.pid!);
}

/** Open model: payments start on schedule whatever the latency; latency counted from the intended start. */
async function step(reqRate: number): Promise<Row> {
  const perPayment = 2 + 1 / 20;
  const payRate = reqRate / perPayment;
  const hist = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  const total = Math.round(payRate * o.seconds);
  const cpu0 = emulatorCpuSeconds();
  const start = performance.now();
  let errors = 0;
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const intended = start + (i * 1000) / payRate;
    const wait = intended - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    inflight.push(payment().then((e) => {
      errors += e;
      hist.recordValue(Math.max(0, Math.round((performance.now() - intended) * 1000)));
    }, () => { errors++; }));
  }
  await Promise.all(inflight);
  const elapsed = (performance.now() - start) / 1000;
  const cpu = emulatorCpuSeconds() - cpu0;
  return {
    emulator_cpu_us_per_req: Math.round((cpu * 1e6) / (total * perPayment)),
    rate_req_s: reqRate,
    achieved_req_s: Math.round((total * perPayment) / elapsed),
    p50_ms: hist.getValueAtPercentile(50) / 1000,
    p99_ms: hist.getValueAtPercentile(99) / 1000,
    max_ms: hist.maxValue / 1000,
    errors,
  };
}

const rows: Row[] = [];
try {
  await step(500); // warm-up (JIT, connections)
  for (const r of o.rates.split(',').map(Number)) {
    const row = await step(r);
    rows.push(row);
    console.log(`rate ${row.rate_req_s} req/s  achieved ${row.achieved_req_s}  payment p50 ${row.p50_ms.toFixed(2)} ms  p99 ${row.p99_ms.toFixed(2)} ms  max ${row.max_ms.toFixed(1)} ms  errors ${row.errors}  emulator CPU ${row.emulator_cpu_us_per_req} µs/req (≈ ${Math.round(1e6 / row.emulator_cpu_us_per_req)} req/s per core)`);
  }
  const stats = await (await fetch(`${base}/_admin/stats`)).json() as { objects: unknown; journal: { bytes: number; writes: number; lines_written: number } };
  const result = {
    when: new Date().toISOString(), fsync: o.fsync, concurrency: o.concurrency, seconds: o.seconds,
    note: 'latency is per payment (create + confirm, + search every 20th), from its intended start (open model)',
    rows, emulator: stats,
    max_rate_p99_under_100ms: Math.max(0, ...rows.filter((r) => r.p99_ms < 100 && r.errors === 0 && r.achieved_req_s >= r.rate_req_s * 0.95).map((r) => r.rate_req_s)),
  };
  mkdirSync(join(repoRoot, 'bench/results'), { recursive: true });
  writeFileSync(join(repoRoot, 'bench/results/stripe-emulator.json'), JSON.stringify(result, null, 2));
  console.log(`highest rate with p99 < 100 ms: ${result.max_rate_p99_under_100ms} req/s; journal ${Math.round(stats.journal.bytes / 1e6)} MB in ${stats.journal.writes} writes (${stats.journal.lines_written} lines)`);
} finally {
  await pool.close();
  proc.kill('SIGTERM');
  await new Promise((r) => proc.once('exit', r));
  rmSync(dataDir, { recursive: true, force: true });
}
