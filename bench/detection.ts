// `npm run bench:detection [-- --only a,b]`: the detection matrix (bench/detection-matrix.ts)
// on the stack ORDEAL_HOME / ORDEAL_PORT_OFFSET name, through its own workers: every seeded
// defect under the shipped scenario that exposes it (FAIL with its class expected), and
// the correct system under every shipped scenario (PASS expected; stress: no failing
// class). Prints the matrix, writes bench/results/detection.json; the stack's defects are
// switched off again at the end. `--only` takes defect and/or scenario names.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, hostname, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { OrdealClient } from '../scripts/client/index.ts';
import { loadStackConfig, repoRoot } from '../scripts/stack/config.ts';
import { stackServices, up } from '../scripts/stack/index.ts';
import { warmUpStack } from '../scripts/stack/warmup.ts';
import { defectCells, matrixTable, runCell, shortScenarios, STRESS_PROMISE, switchDefects, type Cell } from './detection-matrix.ts';

const { values } = parseArgs({ options: {
  only: { type: 'string' },
  out: { type: 'string', default: join(repoRoot, 'bench', 'results', 'detection.json') },
} });
const only = values.only ? new Set(values.only.split(',').map((s) => s.trim()).filter(Boolean)) : null;
const known = new Set([...Object.keys(shortScenarios), ...defectCells.map((d) => d.defect)]);
const unknown = [...(only ?? [])].filter((x) => !known.has(x));
if (unknown.length) throw new Error(`--only: unknown name(s) ${unknown.join(', ')}; known: ${[...known].join(', ')}`);

const config = loadStackConfig();
const say = (line: string) => process.stderr.write(`[bench:detection] ${line}\n`);
say(`stack at ${config.home}; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
await up({ config, services: stackServices });
const ordeal = await OrdealClient.connect({ config });
// The correct system first, on a warm stack: a seeded defect restarts the process it lives
// in, and a freshly restarted payment API or processor is cold (see scripts/stack/warmup.ts).
const plan = [
  ...Object.keys(shortScenarios).filter((s) => !only || only.has(s)).map((s) => ({ system: 'correct' as const, scenario: s })),
  ...defectCells.filter((d) => !only || only.has(d.defect) || only.has(d.scenario)).map((d) => ({ system: d.defect, scenario: d.scenario })),
];
const cells: Cell[] = [];
try {
  await switchDefects(config, []);
  const w = await warmUpStack({ config, rate: 500, durationMs: 20_000, rampMs: 5000 });
  say(`warm-up pass (its own run ${w.run_id}): ${w.verdict}, p99 ${w.p99_ms} ms, in ${(w.took_ms / 1000).toFixed(1)} s`);
  for (const p of plan) {
    const c = await runCell({ ordeal, config, ...p });
    cells.push(c);
    say(`${c.system} × ${c.scenario}: ${c.verdict} ${c.classes.join(',') || '-'} in ${c.seconds} s (load average ${c.load_average}) — ${c.ok ? 'as expected' : `UNEXPECTED: ${c.reasons.slice(0, 3).join('; ')}`}`);
  }
} finally {
  await switchDefects(config, []);
  await ordeal.close();
}
const out = {
  bench: 'detection',
  at: new Date().toISOString(),
  machine: { host: hostname(), cpus: cpus().length, node: process.version }, load_average_at_end: loadavg(),
  stress_promises: STRESS_PROMISE,
  cells, as_expected: cells.filter((c) => c.ok).length, of: cells.length,
};
mkdirSync(dirname(values.out), { recursive: true });
writeFileSync(values.out, JSON.stringify(out, null, 2) + '\n');
process.stdout.write(`\n${matrixTable(cells)}\n${out.as_expected}/${out.of} cells as expected; stress promises ${STRESS_PROMISE}; written to ${values.out}\n`);
process.exitCode = out.as_expected === out.of ? 0 : 1;
