// `ordeal stack up | down | status | logs <service>`
import { createReadStream, existsSync, readFileSync, statSync, watch } from 'node:fs';
import type { Command } from 'commander';
import {
  down, loadStackConfig, readStackDefects, logFileOf, stackServices, status, up,
  type ProgressEvent, type ServiceStatus,
} from '../stack/index.ts';
import { DEFECTS_ENV, defectNames, parseDefects } from '../../systems/defects.ts';
import { table } from './table.ts';
import { warmUpAfterStart } from './warmup.ts';

function progress(e: ProgressEvent): void {
  const line = e.event === 'ready'
    ? `  ✓ ${e.service.padEnd(12)} ready after ${(e.ms / 1000).toFixed(1)}s${e.detail ? `  (${e.detail})` : ''}`
    : e.event === 'restarting' ? `  · ${e.service.padEnd(12)} restarting (${e.reason})`
      : `  · ${e.service.padEnd(12)} ${e.event}`;
  process.stderr.write(line + '\n');
}

export function printStatus(rows: ServiceStatus[]): void {
  process.stdout.write(table(['SERVICE', 'STATE', 'PID', 'PORT', 'URL'], rows.map((r) => [r.service, r.state, r.pid, r.port, r.url])) + '\n');
  for (const r of rows.filter((r) => r.state !== 'up')) process.stdout.write(`  ${r.service}: ${r.detail}\n`);
  const carriers = rows.filter((r) => r.defects !== null && r.state !== 'down');
  const on = carriers.flatMap((r) => (r.defects ?? []).map((d) => `${d} (${r.service})`));
  if (carriers.length) process.stdout.write(`seeded defects: ${on.length ? on.join(', ') : 'none'}\n`);
}

export function registerStack(program: Command): void {
  const stack = program.command('stack').description('the embedded stack: every real component on this machine, loopback only');

  stack.command('up').description('start the stack (or the named services) and wait until every service answers')
    .argument('[services...]', 'only these services (and what they need)')
    .option('--json', 'print the status as JSON')
    .option('--no-warm-up', 'skip the warm-up pass (default: on when this call started the payment API; or ORDEAL_STACK_WARMUP=0)')
    .option('--defects <names>', `seeded defects, comma-separated, or "none" (default: as last set, none on a fresh stack; or $${DEFECTS_ENV}): ${defectNames.join(', ')}`,
      process.env[DEFECTS_ENV])
    .action(async (services: string[], opts: { json?: boolean; defects?: string; warmUp: boolean }) => {
      const config = loadStackConfig();
      const t0 = Date.now();
      const defects = opts.defects === undefined ? readStackDefects(config) : parseDefects(opts.defects);
      process.stderr.write(`ordeal stack up (home ${config.home})${defects.length ? `, seeded defects: ${defects.join(', ')}` : ''}\n`);
      const started = new Set<string>();
      const rows = await up({ config, services: stackServices, only: services,
        onProgress: (e) => { if (e.event === 'starting' || e.event === 'restarting') started.add(e.service); progress(e); },
        ...(opts.defects === undefined ? {} : { defects }) });
      if (opts.warmUp) await warmUpAfterStart(config, rows, started);
      process.stderr.write(`stack ready in ${((Date.now() - t0) / 1000).toFixed(1)}s\n`);
      if (opts.json) process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
      else printStatus(rows);
      if (rows.some((r) => r.state !== 'up')) process.exitCode = 1;
    });

  stack.command('down').description('stop every process the stack started')
    .argument('[services...]', 'only these services')
    .option('--purge', "also delete the services' data and logs")
    .action(async (services: string[], opts: { purge?: boolean }) => {
      const config = loadStackConfig();
      await down({ config, services: stackServices, only: services, onProgress: progress, purge: opts.purge ?? false });
    });

  stack.command('status').description('state, pid, port and URL of each service (a dead service shows as down)')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const config = loadStackConfig();
      const rows = await status({ config, services: stackServices });
      if (opts.json) process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
      else printStatus(rows);
      if (rows.some((r) => r.state !== 'up')) process.exitCode = 3;
    });

  stack.command('logs').description("print a service's log")
    .argument('<service>')
    .option('-n, --lines <n>', 'last n lines', '100')
    .option('-f, --follow', 'keep printing as the log grows')
    .action(async (service: string, opts: { lines: string; follow?: boolean }) => {
      const file = logFileOf(loadStackConfig(), stackServices, service);
      if (!existsSync(file)) throw new Error(`${service} has no log yet (${file})`);
      const lines = readFileSync(file, 'utf8').split('\n');
      process.stdout.write(lines.slice(-Number(opts.lines) - 1).join('\n'));
      if (!opts.follow) return;
      let offset = statSync(file).size;
      watch(file, () => {
        const size = statSync(file).size;
        if (size <= offset) return;
        createReadStream(file, { start: offset, end: size - 1 }).pipe(process.stdout, { end: false });
        offset = size;
      });
      await new Promise(() => {});
    });
}
