// `stack up`'s warm-up pass, as the CLI prints it (the pass itself: scripts/stack/warmup.ts).
import { parseDuration } from '../../activities/scenario/duration.ts';
import type { ServiceStatus, StackConfig } from '../stack/index.ts';
import { warmUpStack, warmupSkipReason } from '../stack/warmup.ts';

export interface WarmupSettings { rate: number; durationMs: number; rampMs: number }

/** ORDEAL_STACK_WARMUP: `0`/`off` skips; otherwise `<duration>` or `<duration>@<rate>` (default 30s@1000, 10 s ramp). */
export function warmupFromEnv(value: string | undefined): WarmupSettings | null {
  if (value === undefined || value === '') return { rate: 1000, durationMs: 30_000, rampMs: 10_000 };
  if (value === '0' || value === 'off') return null;
  const m = /^([^@]+)(?:@(\d+))?$/.exec(value);
  let durationMs = NaN;
  try { if (m) durationMs = parseDuration(m[1]!); } catch { /* reported below, with what is expected */ }
  const rate = m?.[2] ? Number(m[2]) : 1000;
  if (!m || !(durationMs >= 2000) || !(rate > 0)) {
    throw new Error(`ORDEAL_STACK_WARMUP: expected 0, off, <duration> or <duration>@<rate> with duration >= 2s (e.g. 30s@1000), got ${JSON.stringify(value)}`);
  }
  return { rate, durationMs, rampMs: Math.min(10_000, Math.floor(durationMs / 3)) };
}

export async function warmUpAfterStart(config: StackConfig, rows: ServiceStatus[], started: ReadonlySet<string>): Promise<void> {
  const w = warmupFromEnv(process.env.ORDEAL_STACK_WARMUP);
  if (!w) return;
  const skip = warmupSkipReason(new Set(rows.filter((r) => r.state === 'up').map((r) => r.service)), started);
  if (skip) { process.stderr.write(`  · warm-up      ${skip}\n`); return; }
  try {
    const r = await warmUpStack({ config, ...w, onLine: (l) => process.stderr.write(l + '\n') });
    process.stderr.write(`  ✓ warm-up      ${r.verdict} after ${(r.took_ms / 1000).toFixed(1)}s  (run ${r.run_id}: ${r.messages} payments, `
      + `p99 ${r.p99_ms} ms, worst second of the last 10 s p99 ${r.last_seconds_p99_ms} ms, error rate ${(r.error_rate * 100).toFixed(2)} %, `
      + `load average ${r.load_average.join(' ')})\n`);
  } catch (err) {
    // A warm-up that could not run leaves a working, cold stack: say so, do not fail `up`.
    process.stderr.write(`  ! warm-up      failed, the stack is up but cold: ${(err as Error).message}\n`);
  }
}
