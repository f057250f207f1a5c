// `npm run bench:load`: Ordeal's load engine beside autocannon, wrk and Locust on a
// trivial loopback server (each generator pinned to one core, the server to the
// other), then latency accuracy (50 ms server) and the coordinated-omission known
// answer (2,000 req/s for 30 s, server SIGSTOPped for 1.5 s). One run each: a
// benchmark, not a test. Writes bench/results/load.json. cpu_per_1k_req is the
// generator's CPU milliseconds (user + system) per 1,000 requests.
//
// BENCH_BASELINE=<another checkout> compares a change to the engine: that checkout's
// engine runs beside this one in the same invocation, alternating, BENCH_ROUNDS times
// (default 3, in ABBA order) for each of Ordeal's rows (throughput, accuracy, coordinated omission);
// the other tools run once. The medians per engine are printed and kept in load.json. A
// baseline checkout of commit REV: `mkdir -p .ordeal/bench/baseline && git archive REV | tar -x
// -C .ordeal/bench/baseline && ln -s "$PWD/node_modules" .ordeal/bench/baseline/node_modules`.
// cpu_per_1k_req is whole-process CPU, start-up included (~0.2 s of a row's ~8 s): what a
// generator imports counts (bench/ordeal-gen.ts).
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../scripts/stack/config.ts';
import { cpuSeconds } from '../process-table/index.ts';

const benchHome = join(repoRoot, '.ordeal', 'bench');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const WARMUP_SECONDS = 3;
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const CO_SECONDS = Number(process.env.BENCH_CO_SECONDS ?? 30);
const GEN_CORE = process.env.BENCH_GEN_CORE ?? '0';
const SERVER_CORE = process.env.BENCH_SERVER_CORE ?? '1';
const node = process.execPath;
const BASELINE = process.env.BENCH_BASELINE;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (BASELINE ? 3 : 1));
/** Ordeal's engines to measure, by the checkout their bench/ordeal-gen.ts (and so their engine) comes from. */
const engines = [{ tool: 'ordeal', root: repoRoot }, ...(BASELINE ? [{ tool: 'ordeal (baseline)', root: BASELINE }] : [])];
const median = (xs: number[]) => { const v = [...xs].sort((a, b) => a - b); return v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2; };
/** The engines in round `round`'s order: reversed every other round (ABBA), so neither always runs first. */
const inOrder = (round: number) => (round % 2 ? [...engines].reverse() : engines);
const ordealGen = (root: string, ...args: string[]) => [node, '--disable-warning=TimeoutNegativeWarning', join(root, 'bench/ordeal-gen.ts'), ...args];
// The request every generator sends; Ordeal's has the same shape with ledger values (bench/ordeal-gen.ts).
const BODY = '{"message_id":"m","amount_cents":100,"currency":"usd"}';
mkdirSync(benchHome, { recursive: true });

function log(msg: string): void { process.stderr.write(`[bench] ${msg}\n`); }

function ensureServer(): string {
  const bin = join(benchHome, 'bench-server');
  const src = join(repoRoot, 'bench', 'server.go');
  // Rebuilt when server.go changes: a stale binary would measure an older server.
  if (!existsSync(bin) || statSync(bin).mtimeMs < statSync(src).mtimeMs) {
    log('building the Go loopback server (standard library only)');
    execFileSync('go', ['build', '-o', bin, 'server.go'], { cwd: join(repoRoot, 'bench'), stdio: 'inherit', env: { ...process.env, GOFLAGS: '' } });
  }
  return bin;
}

/** Locust from PyPI, in a venv under the gitignored .ordeal/ folder. */
function ensureLocust(): string {
  const venv = join(benchHome, 'locust-venv');
  const bin = join(venv, 'bin', 'locust');
  if (!existsSync(bin)) {
    log('installing Locust from PyPI into .ordeal/bench/locust-venv');
    execFileSync('python3', ['-m', 'venv', venv], { stdio: 'inherit' });
    execFileSync(join(venv, 'bin', 'pip'), ['install', '-q', 'locust'], { stdio: 'inherit' });
  }
  return bin;
}

async function startServer(bin: string, delay?: string): Promise<{ url: string; proc: ChildProcess }> {
  const proc = spawn('taskset', ['-c', SERVER_CORE, bin, '-port', '0', ...(delay ? ['-delay', delay] : [])],
    { env: { ...process.env, GOMAXPROCS: '1' }, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => { out += d.toString(); const m = /LISTEN (\d+)/.exec(out); if (m) resolve(Number(m[1])); });
    proc.once('exit', (c) => reject(new Error(`bench server exited ${c}`)));
  });
  return { url: `http://127.0.0.1:${port}`, proc };
}

async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  proc.kill('SIGCONT');
  proc.kill('SIGTERM');
  await new Promise((r) => proc.once('exit', r));
}

/** Runs a generator pinned to one core; returns its output and its CPU seconds (bash `times`, children line). */
function pinned(cmd: string[], hooks?: { after?: number; then?: () => void }): Promise<{ out: string; cpu: number }> {
  const quoted = cmd.map((c) => `'${c.replace(/'/g, `'\\''`)}'`).join(' ');
  const proc = spawn('bash', ['-c', `taskset -c ${GEN_CORE} ${quoted}; echo TIMES; times`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  proc.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  if (hooks?.then) setTimeout(hooks.then, hooks.after ?? 0);
  return new Promise((resolve) => proc.once('exit', () => {
    const times = out.slice(out.lastIndexOf('TIMES')).trim().split('\n');
    const child = (times[2] ?? '').trim().split(/\s+/).map((t) => { const m = /(\d+)m([\d.]+)s/.exec(t); return m ? Number(m[1]) * 60 + Number(m[2]) : 0; });
    resolve({ out: out.slice(0, out.lastIndexOf('TIMES')), cpu: (child[0] ?? 0) + (child[1] ?? 0) });
  }));
}

function result(out: string): { requests: number; seconds: number; latency_ms: { p50: number; p99: number }; latency_uncorrected_ms: { p50: number; p99: number } } {
  const line = out.split('\n').find((l) => l.startsWith('RESULT '));
  if (!line) throw new Error(`generator printed no RESULT:\n${out}`);
  return JSON.parse(line.slice(7));
}

/**
 * server_cpu_share: the server's CPU use over the tool's run, in cores (its process is
 * pinned to one). Well below 1, the generator was the bound and the row compares
 * generators; near 1, the server was, and the row measures the server.
 */
interface Row { tool: string; rps: number; cpu_per_1k_req: number; requests: number; server_cpu_share: number }

/** Runs one generator and reports the server's CPU share over the same wall time. */
async function watched<T>(serverPid: number, run: () => Promise<T>): Promise<T & { serverShare: number }> {
  const cpu0 = cpuSeconds(serverPid);
  const t0 = performance.now();
  const r = await run();
  const share = (cpuSeconds(serverPid) - cpu0) / ((performance.now() - t0) / 1000);
  return { ...r, serverShare: Math.round(share * 100) / 100 };
}

async function throughput(server: string): Promise<Row[]> {
  const rows: Row[] = [];
  const srv = await startServer(server);
  const url = `${srv.url}/payments`;
  try {
    const pid = srv.proc.pid!;
    const add = (tool: string, requests: number, seconds: number, cpu: number, serverShare: number) => {
      const row = { tool, rps: Math.round(requests / seconds), cpu_per_1k_req: Math.round((cpu * 1e7) / requests) / 10, requests, server_cpu_share: serverShare };
      log(`${tool}: ${row.rps} req/s, ${row.cpu_per_1k_req} ms CPU per 1k requests (server core ${Math.round(serverShare * 100)}% busy)`);
      rows.push(row);
    };
    // A fresh server (page faults, Go runtime growth, TCP state) is slower for its first
    // seconds; whoever ran first paid for it (ordeal, ~9% in a quiet run). Unmeasured.
    await pinned(['wrk', '-t1', `-c${CONNECTIONS}`, `-d${WARMUP_SECONDS}s`, url]);
    for (let round = 0; round < ROUNDS; round++) {
      for (const engine of inOrder(round)) {
        const { out, cpu, serverShare } = await watched(pid, () => pinned(ordealGen(engine.root, 'throughput', url, String(SECONDS), String(CONNECTIONS))));
        const r = result(out);
        add(engine.tool, r.requests, r.seconds, cpu, serverShare);
      }
    }
    {
      const { out, cpu, serverShare } = await watched(pid, () => pinned([node, join(repoRoot, 'node_modules/autocannon/autocannon.js'), '-j', '-c', String(CONNECTIONS), '-d', String(SECONDS),
        '-m', 'POST', '-H', 'content-type=application/json', '-H', 'idempotency-key=k', '-b', BODY, url]));
      const j = JSON.parse(out.slice(out.indexOf('{'), out.lastIndexOf('}') + 1)) as { requests: { total: number }; duration: number };
      add('autocannon', j.requests.total, j.duration, cpu, serverShare);
    }
    {
      const lua = join(benchHome, 'post.lua');
      writeFileSync(lua, `wrk.method = "POST"\nwrk.body = '${BODY}'\nwrk.headers["Content-Type"] = "application/json"\nwrk.headers["Idempotency-Key"] = "k"\n`);
      const { out, cpu, serverShare } = await watched(pid, () => pinned(['wrk', '-t1', `-c${CONNECTIONS}`, `-d${SECONDS}s`, '-s', lua, url]));
      const m = /(\d+) requests in ([\d.]+)(ms|s|m)/.exec(out);
      if (!m) throw new Error(`wrk output not understood:\n${out}`);
      const secs = Number(m[2]) * (m[3] === 'ms' ? 0.001 : m[3] === 'm' ? 60 : 1);
      add('wrk', Number(m[1]), secs, cpu, serverShare);
    }
    {
      const locust = ensureLocust();
      const csv = join(benchHome, 'locust');
      const { out, cpu, serverShare } = await watched(pid, () => pinned([locust, '-f', join(repoRoot, 'bench/locustfile.py'), '--headless', '-u', String(CONNECTIONS), '-r', String(CONNECTIONS),
        '-t', `${SECONDS}s`, '--host', srv.url, '--only-summary', '--csv', csv, '--loglevel', 'WARNING']));
      const lines = readFileSync(`${csv}_stats.csv`, 'utf8').trim().split('\n');
      const header = lines[0]!.split(',');
      const agg = lines.find((l) => l.includes('Aggregated'))?.split(',');
      if (!agg) throw new Error(`locust wrote no aggregate row:\n${out}`);
      const count = Number(agg[header.indexOf('Request Count')]);
      const rps = Number(agg[header.indexOf('Requests/s')]);
      add('locust (FastHttpUser)', count, count / rps, cpu, serverShare);
    }
  } finally { await stop(srv.proc); }
  return rows;
}

interface Accuracy { p50_ms: number; p50_uncorrected_ms: number; reference_wrk_p50_ms: number | null }

async function accuracy(server: string, root: string): Promise<Accuracy> {
  const srv = await startServer(server, '50ms');
  try {
    const { out } = await pinned(ordealGen(root, 'rate', `${srv.url}/payments`, '200', String(SECONDS)));
    const r = result(out);
    // Control: what wrk (C, closed loop) sees from the same server on this machine right now.
    const w = await pinned(['wrk', '-t1', '-c10', '-d3s', '--latency', `${srv.url}/payments`]);
    const m = /50%\s+([\d.]+)(us|ms|s)/.exec(w.out);
    const ref = m ? Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1) : null;
    log(`accuracy: 50 ms server → p50 ${r.latency_ms.p50} ms (wrk sees ${ref} ms)`);
    return { p50_ms: r.latency_ms.p50, p50_uncorrected_ms: r.latency_uncorrected_ms.p50, reference_wrk_p50_ms: ref };
  } finally { await stop(srv.proc); }
}

interface Omission { p99_corrected_ms: number; p99_uncorrected_ms: number }

async function coordinatedOmission(server: string, root: string): Promise<Omission> {
  const srv = await startServer(server);
  try {
    const pauseAt = Math.floor((CO_SECONDS * 1000) / 3);
    // 100 requests in flight at most, like wrk2's README example (-c100): arrivals queue
    // behind the stall, so the uncorrected number shows what a closed-loop tool would report.
    const { out } = await pinned(ordealGen(root, 'rate', `${srv.url}/payments`, '2000', String(CO_SECONDS), '100'), {
      after: pauseAt,
      then: () => {
        // SIGSTOP the server process itself (taskset exec'd it), SIGCONT 1.5 s later.
        srv.proc.kill('SIGSTOP');
        setTimeout(() => srv.proc.kill('SIGCONT'), 1500);
      },
    });
    const r = result(out);
    log(`coordinated omission: p99 corrected ${r.latency_ms.p99} ms, uncorrected ${r.latency_uncorrected_ms.p99} ms`);
    return { p99_corrected_ms: r.latency_ms.p99, p99_uncorrected_ms: r.latency_uncorrected_ms.p99 };
  } finally { await stop(srv.proc); }
}

const server = ensureServer();
ensureLocust();
const load = spawnSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).stdout.trim();
const rows = await throughput(server);
const accs = new Map<string, Accuracy[]>(engines.map((e) => [e.tool, []]));
const cos = new Map<string, Omission[]>(engines.map((e) => [e.tool, []]));
for (let round = 0; round < ROUNDS; round++) for (const e of inOrder(round)) accs.get(e.tool)!.push(await accuracy(server, e.root));
for (let round = 0; round < ROUNDS; round++) for (const e of inOrder(round)) cos.get(e.tool)!.push(await coordinatedOmission(server, e.root));
/** The middle run by `by` (the lower middle of an even count; one run: that run). */
const medianOf = <T>(xs: T[], by: (x: T) => number): T => [...xs].sort((p, q) => by(p) - by(q))[Math.floor((xs.length - 1) / 2)]!;
const acc = medianOf(accs.get('ordeal')!, (a) => a.p50_ms);
const co = medianOf(cos.get('ordeal')!, (c) => c.p99_corrected_ms);
// The issue's aims, judged from this run's rows (printed and kept beside them).
const ordealRow = medianOf(rows.filter((r) => r.tool === 'ordeal'), (r) => r.rps);
const autocannonRow = rows.find((r) => r.tool === 'autocannon')!;
const locustRow = rows.find((r) => r.tool.startsWith('locust'))!;
const aims = {
  rps_per_core_at_least_40k: ordealRow.rps >= 40_000,
  ahead_of_autocannon: ordealRow.rps > autocannonRow.rps && ordealRow.cpu_per_1k_req < autocannonRow.cpu_per_1k_req,
  times_locust_rps: Math.round((ordealRow.rps / locustRow.rps) * 10) / 10,
  accuracy_p50_within_1ms: Math.abs(acc.p50_ms - 50) <= 1,
  co_corrected_p99_at_least_1s: co.p99_corrected_ms >= 1000,
};
const comparison = BASELINE ? engines.map((e) => {
  const own = rows.filter((r) => r.tool === e.tool);
  return { tool: e.tool, root: e.root, rounds: ROUNDS, rps: own.map((r) => r.rps), cpu_per_1k_req: own.map((r) => r.cpu_per_1k_req),
    accuracy_p50_ms: accs.get(e.tool)!.map((a) => a.p50_ms), co_p99_corrected_ms: cos.get(e.tool)!.map((c) => c.p99_corrected_ms),
    co_p99_uncorrected_ms: cos.get(e.tool)!.map((c) => c.p99_uncorrected_ms),
    median: { rps: median(own.map((r) => r.rps)), cpu_per_1k_req: median(own.map((r) => r.cpu_per_1k_req)),
      accuracy_p50_ms: median(accs.get(e.tool)!.map((a) => a.p50_ms)), co_p99_corrected_ms: median(cos.get(e.tool)!.map((c) => c.p99_corrected_ms)) } };
}) : undefined;
const report = { rows, aims, accuracy: acc, coordinated_omission: co, ...(comparison ? { comparison } : {}),
  conditions: { server: 'raw HTTP/1.1 responder (bench/server.go; net/http with -delay for accuracy)', seconds: SECONDS, server_warmup_seconds: WARMUP_SECONDS, connections: CONNECTIONS, generator_core: GEN_CORE, server_core: SERVER_CORE, loadavg_before: load, date: new Date().toISOString() } };
mkdirSync(join(repoRoot, 'bench', 'results'), { recursive: true });
writeFileSync(join(repoRoot, 'bench', 'results', 'load.json'), JSON.stringify(report, null, 2) + '\n');

// Ratios against Ordeal: how many of this tool's requests/s (or CPU per request) one of Ordeal's is worth.
const table = [['tool', 'req/s', 'vs ordeal', 'CPU ms / 1k req', 'vs ordeal', 'server core busy', 'requests'],
  ...rows.map((r) => [r.tool, String(r.rps), `${(r.rps / ordealRow.rps).toFixed(2)}×`, r.cpu_per_1k_req.toFixed(1), `${(r.cpu_per_1k_req / ordealRow.cpu_per_1k_req).toFixed(2)}×`,
    `${Math.round(r.server_cpu_share * 100)}%`, String(r.requests)])];
const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
console.log(table.map((r) => r.map((c, i) => (i ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ')).join('\n'));
console.log(`\naccuracy: 50 ms fixed server delay → p50 ${acc.p50_ms} ms (error ${(acc.p50_ms - 50).toFixed(3)} ms; uncorrected ${acc.p50_uncorrected_ms} ms; wrk on the same server: ${acc.reference_wrk_p50_ms} ms)`);
console.log(`coordinated omission (2,000 req/s, ${CO_SECONDS} s, server SIGSTOPped 1.5 s): p99 corrected ${co.p99_corrected_ms} ms, uncorrected ${co.p99_uncorrected_ms} ms`);
console.log(`aims: ≥ 40k req/s on one core ${aims.rps_per_core_at_least_40k ? 'met' : 'NOT met'} (${ordealRow.rps}); ahead of autocannon ${aims.ahead_of_autocannon ? 'met' : 'NOT met'} `
  + `(${((ordealRow.rps / autocannonRow.rps - 1) * 100).toFixed(1)}% req/s, ${((ordealRow.cpu_per_1k_req / autocannonRow.cpu_per_1k_req - 1) * 100).toFixed(1)}% CPU per request); `
  + `${aims.times_locust_rps}× Locust's req/s`);
for (const c of comparison ?? []) {
  console.log(`${c.tool.padEnd(18)} median of ${c.rounds}: ${c.median.rps} req/s, ${c.median.cpu_per_1k_req} ms CPU / 1k req, accuracy p50 ${c.median.accuracy_p50_ms} ms, `
    + `CO p99 ${c.median.co_p99_corrected_ms} ms  (req/s ${c.rps.join(', ')}; CPU ${c.cpu_per_1k_req.join(', ')}; p50 ${c.accuracy_p50_ms.join(', ')}; p99 ${c.co_p99_corrected_ms.join(', ')})`);
}
console.log(`(load average before: ${load}; after: ${spawnSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).stdout.trim()}; ${SECONDS} s per tool after a ${WARMUP_SECONDS} s unmeasured server warm-up, ${CONNECTIONS} connections, generator on core ${GEN_CORE}, server on core ${SERVER_CORE})`);
