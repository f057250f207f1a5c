// `ordeal panic [--clear]` (the global kill switch) and `ordeal faults` (what is in effect).
import type { Command } from 'commander';
import { parseDuration } from '../../activities/scenario/duration.ts';
import {
  clearPanic, closeFaults, faultEvidence, faultStore, injectFault, listOpenFaults, panic, panicState, revertFault,
  type FaultHandle, type FaultSpecInput,
} from '../../activities/faults/index.ts';
import { readSystemFile } from '../../activities/system/index.ts';
import { table } from './table.ts';

export function registerFaults(program: Command): void {
  program.command('panic')
    .description('revert every active fault and block new experiments until `ordeal panic --clear`')
    .option('--clear', 'lift the block (reverts nothing)')
    .option('--status', 'only show whether the block is in force')
    .option('--reason <text>', 'why (recorded and shown to whoever is blocked)', 'manual panic')
    .action(async (opts: { clear?: boolean; status?: boolean; reason: string }) => {
      try {
        if (opts.status) {
          const s = await panicState();
          process.stdout.write(s.active ? `panic ACTIVE since ${s.since?.toISOString()}: ${s.reason ?? ''}\n` : 'no panic in force\n');
          return;
        }
        if (opts.clear) {
          await clearPanic();
          process.stdout.write('panic cleared: experiments may start again\n');
          return;
        }
        const results = await panic(opts.reason);
        process.stdout.write(`panic: new experiments blocked until \`ordeal panic --clear\`; ${results.length} active fault(s)\n`);
        if (results.length) {
          process.stdout.write(table(['FAULT', 'RUN', 'TYPE', 'TARGET', 'RESULT'], results.map(({ lease, result }) => [
            lease.faultId, lease.runId, lease.handle.type, lease.handle.target,
            result.error ? `FAILED: ${result.error}` : result.alreadyReverted ? `already healed (${result.detail ?? ''})` : `reverted (${result.detail ?? ''})`,
          ])) + '\n');
        }
        if (results.some((r) => r.result.error)) {
          process.stderr.write('some faults could not be reverted: they stay in the lease table and the watchdog keeps retrying\n');
          process.exitCode = 1;
        }
      } finally {
        await closeFaults();
      }
    });

  const faults = program.command('faults').description('faults injected into this stack');
  faults.command('list').description('faults not reverted yet, with their leases')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      try {
        const rows = await listOpenFaults();
        if (opts.json) {
          process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
          return;
        }
        if (!rows.length) {
          process.stdout.write('no active faults\n');
          return;
        }
        process.stdout.write(table(['FAULT', 'RUN', 'TYPE', 'TARGET', 'BACKEND', 'STATE', 'LEASE EXPIRES', 'LAST ERROR'], rows.map((r) => [
          r.faultId, r.runId, r.handle.type, r.handle.target, r.handle.backend, r.state, r.leaseExpiresAt.toISOString(), r.lastError ?? '',
        ])) + '\n');
      } finally {
        await closeFaults();
      }
    });

  faults.command('inject').description('inject one fault by hand (prints its handle as JSON); its lease bounds it')
    .argument('<type>', 'fault type, e.g. network_partition')
    .argument('<target>', 'stack service, proxy, container, volume or host')
    .option('--backend <name>', 'process | toxiproxy | docker | provider | host (inferred from the type)')
    .option('--param <key=value...>', 'fault parameters', [])
    .option('--lease <duration>', 'the watchdog reverts the fault after this long', '60s')
    .option('--no-restart', 'do not restart a killed target on revert')
    .option('--run-id <id>', 'run id recorded with the lease', 'manual')
    .option('--system <file>', 'the system file that declares the target (default: the embedded stack\'s)')
    .action(async (type: string, target: string, opts: { backend?: string; param: string[]; lease: string; restart: boolean; runId: string; system?: string }) => {
      try {
        const params: Record<string, string | number | boolean> = {};
        for (const kv of opts.param) {
          const i = kv.indexOf('=');
          if (i < 1) throw new Error(`--param ${kv}: expected key=value`);
          const v = kv.slice(i + 1);
          params[kv.slice(0, i)] = v === 'true' ? true : v === 'false' ? false : v !== '' && Number.isFinite(Number(v)) ? Number(v) : v;
        }
        const spec = { type, target, at: 0, duration: opts.lease, restart: opts.restart, params, ...(opts.backend ? { backend: opts.backend } : {}) } as FaultSpecInput;
        const handle = await injectFault({ runId: opts.runId, spec, leaseMs: parseDuration(opts.lease), ...(opts.system ? { system: readSystemFile(opts.system) } : {}) });
        process.stdout.write(JSON.stringify(handle) + '\n');
      } finally {
        await closeFaults();
      }
    });

  faults.command('revert').description('revert faults by id, or a handle copied from workflow history (idempotent), from any process')
    .argument('[faultIds...]')
    .option('--handle <json>', 'a fault handle as JSON (works even when Ordeal\'s database is unreachable)')
    .action(async (ids: string[], opts: { handle?: string }) => {
      try {
        if (opts.handle) {
          const r = await revertFault(JSON.parse(opts.handle) as FaultHandle, 'cli');
          process.stdout.write(JSON.stringify(r) + '\n');
        }
        if (!opts.handle && ids.length === 0) throw new Error('name fault ids, or pass --handle <json>');
        for (const id of ids) {
          const lease = await faultStore().get(id);
          if (!lease) throw new Error(`no fault ${id} in the lease table`);
          const r = await revertFault(lease.handle, 'cli');
          process.stdout.write(JSON.stringify(r) + '\n');
        }
      } finally {
        await closeFaults();
      }
    });

  faults.command('evidence').description('observe whether a fault is in effect')
    .argument('<faultId>')
    .action(async (id: string) => {
      try {
        const lease = await faultStore().get(id);
        if (!lease) throw new Error(`no fault ${id} in the lease table`);
        for (const e of await faultEvidence(lease.handle)) process.stdout.write(`${e.ok ? 'IN EFFECT' : 'not seen '}  ${e.description}\n`);
      } finally {
        await closeFaults();
      }
    });
}
