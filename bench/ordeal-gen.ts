// Ordeal's load engine as a benchmark generator process (the orchestrator pins it to
// one core). Outcomes go nowhere (no outcome log): this measures the engine itself.
//   node bench/ordeal-gen.ts throughput <url> <seconds> <connections>
//   node bench/ordeal-gen.ts rate <url> <rate> <seconds> [max_in_flight]
// No scripts/stack/use-environment.ts here: the engine never reads the environment,
// and building the stack's (its services, supervisor, system file, yaml) cost ~0.4 s of
// CPU per process, which this bench's 8 s rows read as +0.4 ms CPU per 1k requests.
import { runLoad } from '../activities/load/engine.ts';
import { parseLoadSettings } from '../activities/load/plan.ts';
import { latencySummary } from '../activities/load/stats.ts';
import { ledgerSpecSchema } from '../activities/ledger/types.ts';

const [mode, url, a, b, c] = process.argv.slice(2);
if (!url || (mode !== 'throughput' && mode !== 'rate')) {
  console.error('usage: ordeal-gen.ts throughput <url> <seconds> <connections> | rate <url> <rate> <seconds>');
  process.exit(2);
}
// The POST the other generators send (bench/load.ts BODY, same headers), its values
// from the ledger: every request a distinct payment, as in a real run.
const request = { path: '/payments', headers: { 'idempotency-key': '{{idempotency_key}}' },
  body: { message_id: '{{message_id}}', amount_cents: '{{amount_cents}}', currency: '{{currency}}' } };
const settings = mode === 'throughput'
  ? parseLoadSettings({ target: url, executor: 'constant-vus', vus: Number(b), pacing: 0, duration: `${a}s`, retry: { attempts: 1 }, request })
  : parseLoadSettings({ target: url, executor: 'constant-arrival-rate', rate: Number(a), duration: `${b}s`, retry: { attempts: 1 }, timeout: '10s',
    request, ...(c ? { max_in_flight: Number(c) } : {}) });
const messages = 50_000_000;
const r = await runLoad({ runId: 'bench', settings, ledger: ledgerSpecSchema.parse({ messages }), from: 0, to: mode === 'throughput' ? messages : Number(a) * Number(b),
  onOutcome: () => { /* measured in memory only */ }, recordUnsent: false });
const n = r.stats.counts;
console.log('RESULT ' + JSON.stringify({ requests: n.requests, acked: n.acked, errors: n.errorsByClass, late: n.late, seconds: r.activeMs / 1000,
  latency_ms: latencySummary(r.stats.hist), latency_uncorrected_ms: latencySummary(r.stats.histU) }));
