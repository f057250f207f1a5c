// Load settings validation and shard planning. Pure and side-effect free (no Node
// built-ins): the experiment workflow imports this to fan the load phase out.
import type { LedgerSpec } from '../ledger/types.ts';
import { unknownPlaceholders } from './template.ts';
import { loadSettingsSchema, patternNames, templateFields, type LoadSettings, type LoadShardInput } from './types.ts';

export class LoadSettingsError extends Error {
  override name = 'LoadSettingsError';
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid load settings:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.problems = problems;
  }
}

/** Parses scenario `load:` input; every problem is reported with its field path. */
export function parseLoadSettings(input: unknown): LoadSettings {
  const parsed = loadSettingsSchema.safeParse(input);
  if (!parsed.success) {
    throw new LoadSettingsError(parsed.error.issues.map((i) => {
      const at = `load.${i.path.join('.')}`;
      const got = i.path.reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string | number, unknown>)[k as string] : undefined), input);
      return `${at}: ${i.message}${got !== undefined && typeof got !== 'object' ? ` (got ${JSON.stringify(got)})` : ''}`;
    }));
  }
  const problems = semanticProblems(parsed.data);
  if (problems.length) throw new LoadSettingsError(problems);
  return parsed.data;
}

/** Checks zod cannot express: what each executor needs, stage order, template fields, mix names. */
export function semanticProblems(s: LoadSettings): string[] {
  const p: string[] = [];
  switch (s.executor) {
    case 'constant-arrival-rate':
      if (s.rate === undefined) p.push('load.rate: constant-arrival-rate needs a rate (arrivals per second) > 0');
      else if (s.rate <= 0) p.push(`load.rate: must be > 0 arrivals per second (got ${s.rate})`);
      if (s.stages) p.push('load.stages: constant-arrival-rate takes no stages (use ramping-arrival-rate)');
      break;
    case 'ramping-arrival-rate':
    case 'ramping-vus':
      if (!s.stages?.length) p.push(`load.stages: ${s.executor} needs stages [{ duration, target }, ...]`);
      break;
    case 'stress':
      if (!s.stages?.length) p.push('load.stages: stress needs stages of increasing rate [{ duration, target }, ...]');
      else {
        for (let i = 1; i < s.stages.length; i++) {
          if (s.stages[i]!.target <= s.stages[i - 1]!.target) {
            p.push(`load.stages[${i}].target: stress stages must increase the rate; ${s.stages[i]!.target} follows ${s.stages[i - 1]!.target}`);
          }
        }
        if (s.stages[0]!.target <= 0) p.push('load.stages[0].target: a stress stage rate must be > 0');
      }
      if (s.thresholds.p95_ms === undefined && s.thresholds.p99_ms === undefined && s.thresholds.error_rate === undefined) {
        p.push('load.thresholds: stress needs at least one of p95_ms, p99_ms, error_rate to find the knee');
      }
      break;
    case 'constant-vus':
      if (s.vus === undefined) p.push('load.vus: constant-vus needs vus (number of virtual users)');
      if (s.duration === undefined) p.push('load.duration: constant-vus needs a duration');
      break;
  }
  if (s.duration !== undefined && s.warmup >= s.duration) {
    p.push(`load.warmup: must be shorter than load.duration (${s.warmup} ms >= ${s.duration} ms): nothing would be left to judge`);
  }
  const known = new Set<string>(patternNames);
  for (const name of Object.keys(s.mix)) {
    if (!known.has(name)) p.push(`load.mix.${name}: unknown user pattern (known: ${patternNames.join(', ')})`);
  }
  if (Object.values(s.mix).reduce((a, b) => a + b, 0) <= 0) p.push('load.mix: weights must sum to more than 0');
  if (s.request) {
    for (const b of unknownPlaceholders(s.request)) {
      p.push(`load.request.${b.where}: {{${b.name}}} is not a ledger field (${templateFields.join(', ')})`);
    }
  }
  const badStatus = [...s.checkout.status_path.matchAll(/\{\{\s*([a-zA-Z_]\w*)\s*\}\}/g)].filter((m) => m[1] !== 'payment_id' && m[1] !== 'message_id');
  for (const m of badStatus) p.push(`load.checkout.status_path: {{${m[1]}}} is not available (payment_id, message_id)`);
  return p;
}

/** Splits n into `parts` integers that differ by at most one (earlier parts larger). */
function split(n: number, parts: number, i: number): number {
  return Math.floor(n / parts) + (i < n % parts ? 1 : 0);
}

/**
 * The load phase as N shards: disjoint contiguous ledger slices covering it exactly,
 * each at rate/N (stage targets and VUs divided too), so shards run on any workers.
 */
export function planLoadShards(runId: string, settings: LoadSettings, ledger: LedgerSpec): LoadShardInput[] {
  const problems = semanticProblems(settings);
  if (problems.length) throw new LoadSettingsError(problems);
  const n = Math.max(1, Math.min(settings.shards, ledger.messages));
  const out: LoadShardInput[] = [];
  let from = 0;
  for (let i = 0; i < n; i++) {
    const size = split(ledger.messages, n, i);
    const share: LoadSettings = {
      ...settings,
      shards: n,
      ...(settings.rate !== undefined ? { rate: settings.rate / n } : {}),
      ...(settings.stages ? { stages: settings.stages.map((st) => ({ ...st, target: isVus(settings) ? split(st.target, n, i) : st.target / n })) } : {}),
      ...(settings.vus !== undefined ? { vus: Math.max(1, split(settings.vus, n, i)) } : {}),
      max_in_flight: Math.max(1, Math.ceil(settings.max_in_flight / n)),
    };
    out.push({ runId, shard: i, shards: n, from, to: from + size, settings: share, ledger });
    from += size;
  }
  return out;
}

function isVus(s: LoadSettings): boolean {
  return s.executor === 'constant-vus' || s.executor === 'ramping-vus';
}
