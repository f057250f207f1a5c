// `ordeal schedule create | list | delete | trigger`: Temporal Schedules (overlap SKIP).
import type { Command } from 'commander';
import { EXPERIMENT_WORKFLOW, SOAK_WORKFLOW } from '../../workflows/names.ts';
import { OrdealClient } from '../client/index.ts';
import { table } from './table.ts';

const collect = (v: string, prev: string[]) => [...prev, v];

export function registerSchedules(program: Command): void {
  const schedule = program.command('schedule').description('recurring experiments (e.g. a nightly soak at 02:00), overlap SKIP');

  schedule.command('create').description('create a schedule')
    .argument('<scheduleId>')
    .requiredOption('--scenario <name>', 'scenario to run')
    .option('--cron <expr>', "cron expression (repeatable), e.g. '0 2 * * *'", collect, [])
    .option('--every <interval>', 'fixed interval, e.g. 6h')
    .option('--soak', `run ${SOAK_WORKFLOW} (continue-as-new cycles, leak check) instead of one chaos experiment`)
    .option('--cycles <n>', 'soak: cycles per scheduled run', '12')
    .option('--set <path=value>', 'scenario override (repeatable)', collect, [])
    .option('--paused', 'create paused')
    .action(async (id: string, o: { scenario: string; cron: string[]; every?: string; soak?: boolean; cycles: string; set: string[]; paused?: boolean }) => {
      if (o.cron.length === 0 && !o.every) throw new Error('give --cron <expr> or --every <interval>');
      await OrdealClient.withConnection(async (ordeal) => {
        await ordeal.createSchedule({
          scheduleId: id,
          workflow: o.soak ? SOAK_WORKFLOW : EXPERIMENT_WORKFLOW,
          input: o.soak ? { scenario: o.scenario, overrides: o.set, cycles: Number(o.cycles) } : { scenario: o.scenario, overrides: o.set },
          ...(o.cron.length ? { cron: o.cron } : {}),
          ...(o.every ? { every: o.every } : {}),
          paused: o.paused ?? false,
        });
        process.stderr.write(`schedule ${id} created (${o.cron.join(', ') || `every ${o.every}`}, overlap SKIP)\n`);
      });
    });

  schedule.command('list').description('schedules and their next run')
    .option('--json')
    .action(async (o: { json?: boolean }) => {
      await OrdealClient.withConnection(async (ordeal) => {
        const rows = await ordeal.listSchedules();
        if (o.json) process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
        else process.stdout.write(table(['SCHEDULE', 'WORKFLOW', 'SPEC', 'NEXT RUN', 'RECENT', 'PAUSED'],
          rows.map((r) => [r.scheduleId, r.workflowType, r.cron.join(';'), r.nextRun?.toISOString() ?? null, r.recent, String(r.paused)])) + '\n');
      });
    });

  schedule.command('delete').description('delete a schedule (running experiments continue)')
    .argument('<scheduleId>')
    .action(async (id: string) => {
      await OrdealClient.withConnection(async (ordeal) => {
        await ordeal.deleteSchedule(id);
        process.stderr.write(`schedule ${id} deleted\n`);
      });
    });

  schedule.command('trigger').description('run a schedule\'s action now (skipped if its previous run is still going)')
    .argument('<scheduleId>')
    .action(async (id: string) => {
      await OrdealClient.withConnection(async (ordeal) => {
        await ordeal.triggerSchedule(id);
        process.stderr.write(`schedule ${id} triggered\n`);
      });
    });
}
