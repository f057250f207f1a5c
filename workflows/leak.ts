// Leak detection over RSS samples taken between soak cycles: pure, runs in the workflow.
export interface LeakVerdict {
  service: string;
  slope_bytes_per_cycle: number;
  growth_bytes: number;
}

/**
 * A leak is memory that grows steadily: a positive least-squares slope, growth of
 * at least `minGrowthBytes` and 20 % from the first sample, and increases in at
 * least three quarters of the steps (a sawtooth GC pattern does not qualify).
 */
export function detectLeaks(samples: { rss_bytes: Record<string, number> }[], minGrowthBytes = 32 * 1024 * 1024): LeakVerdict[] {
  if (samples.length < 4) return [];
  const services = Object.keys(samples[0]!.rss_bytes);
  const out: LeakVerdict[] = [];
  for (const svc of services) {
    const ys = samples.map((s) => s.rss_bytes[svc] ?? 0);
    if (ys.some((y) => y === 0)) continue; // restarted or not running: no steady series
    const n = ys.length;
    const xm = (n - 1) / 2;
    const ym = ys.reduce((a, b) => a + b, 0) / n;
    let num = 0, den = 0;
    ys.forEach((y, x) => { num += (x - xm) * (y - ym); den += (x - xm) ** 2; });
    const slope = den ? num / den : 0;
    const growth = ys[n - 1]! - ys[0]!;
    let ups = 0;
    for (let i = 1; i < n; i++) if (ys[i]! > ys[i - 1]!) ups++;
    if (slope > 0 && growth >= minGrowthBytes && growth >= 0.2 * ys[0]! && ups >= 0.75 * (n - 1)) {
      out.push({ service: svc, slope_bytes_per_cycle: Math.round(slope), growth_bytes: growth });
    }
  }
  return out;
}
