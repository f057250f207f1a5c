// `ordeal validate <scenario> [--set ...] [--json] [--live]` and `ordeal run --dry-run`:
// check a scenario without running it. Exit 0 valid, 2 invalid (every problem by path).
import type { Command } from 'commander';
import { formatPreflight } from '../../activities/preflight/index.ts';
import { formatProblems, validateScenario, type ResolveOutcome } from '../../activities/scenario/resolve.ts';
import { formatDuration } from '../../activities/scenario/duration.ts';
import { closeFaults } from '../../activities/faults/index.ts';

export interface ValidateOptions { set: string[]; json?: boolean; live?: boolean }

function summary(o: Extract<ResolveOutcome, { ok: true }>): string {
  const s = o.scenario;
  const rate = s.load.rate !== undefined ? ` ${s.load.rate}/s` : '';
  const span = s.load.duration !== undefined ? ` for ${formatDuration(s.load.duration)}` : s.load.stages ? ` over ${s.load.stages.length} stages` : '';
  return [
    `${o.source} is valid (scenario ${s.name}, system ${s.system?.name ?? 'default'})`,
    `  load:      ${s.load.executor}${rate}${span} against ${s.load.target}; ledger ${s.ledger.messages.toLocaleString('en')} entries`,
    `  faults:    ${s.faults.map((f) => `${f.type} on ${f.target} at ${formatDuration(f.at)} for ${formatDuration(f.duration)}`).join('; ') || 'none'}`,
    `  reconcile: ${s.reconcile.map((r) => `${r.name} (${r.source})`).join(', ')}`,
  ].join('\n');
}

/** Prints the outcome; returns the exit code (0 valid, 2 invalid). */
export async function validateCommand(scenario: string, o: ValidateOptions): Promise<number> {
  try {
    const outcome = await validateScenario({ scenario, overrides: o.set }, { live: o.live ?? false });
    if (o.json) {
      process.stdout.write(JSON.stringify({
        valid: outcome.ok, source: outcome.source,
        ...(outcome.ok ? { scenario: outcome.scenario.name, system: outcome.scenario.system?.name } : {}),
        problems: outcome.ok ? [] : outcome.problems,
        ...(outcome.live ? { live: outcome.live } : {}),
      }, null, 2) + '\n');
    } else {
      if (outcome.live) process.stdout.write(formatPreflight(outcome.live) + '\n');
      process.stdout.write((outcome.ok ? summary(outcome) : formatProblems(outcome.source, outcome.problems)) + '\n');
    }
    return outcome.ok ? 0 : 2;
  } finally {
    await closeFaults();
  }
}

const collect = (v: string, all: string[]) => [...all, v];

export function registerValidate(program: Command): void {
  program.command('validate').description('check a scenario without running it: every problem by path (exit 0 valid, 2 invalid)')
    .argument('<scenario>', 'a shipped scenario name or a YAML file')
    .option('--set <path=value>', 'override a scenario field (repeatable), as for run', collect, [])
    .option('--json', 'print the outcome as JSON')
    .option('--live', 'also check the real targets, proxies, sources and probes (reads only, touches nothing)')
    .action(async (scenario: string, o: ValidateOptions) => {
      process.exitCode = await validateCommand(scenario, o);
    });
}
