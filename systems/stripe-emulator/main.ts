// The emulator as a process (the embedded stack runs this):
//   node systems/stripe-emulator/main.ts --port 12111 --data-dir .ordeal/data/stripe-emulator
import { Command } from 'commander';
import { pino } from 'pino';
import { startServer } from './server.ts';

const program = new Command()
  .name('stripe-emulator')
  .description('Stateful Stripe-compatible emulator (PaymentIntents, Refunds, idempotency, admin faults)')
  .requiredOption('--data-dir <dir>', 'journal directory, kept across restarts')
  .option('--port <port>', 'port to listen on (0: any free port)', (v) => Number(v), 12111)
  .option('--host <host>', 'loopback address to listen on', '127.0.0.1')
  .option('--log-level <level>', 'pino log level', process.env.LOG_LEVEL ?? 'info')
  .option('--fsync', 'fdatasync every journal write (survives a machine crash; slower)', false)
  .option('--idempotency-ttl-hours <h>', 'how long idempotency keys are remembered', (v) => Number(v), 24)
  .option('--max-idempotency-keys <n>', 'upper bound on remembered keys (oldest evicted first)', (v) => Number(v), 2_000_000);
program.parse();
const o = program.opts<{ dataDir: string; port: number; host: string; logLevel: string; fsync: boolean; idempotencyTtlHours: number; maxIdempotencyKeys: number }>();

const log = pino({ name: 'stripe-emulator', level: o.logLevel });
try {
  const server = await startServer({
    dataDir: o.dataDir, port: o.port, host: o.host, logger: log, fsync: o.fsync,
    idempotencyTtlMs: o.idempotencyTtlHours * 3600_000, maxIdempotencyKeys: o.maxIdempotencyKeys,
    // Crash-only: a journal that cannot be written means the next restart replays the truth.
    onFatal: () => process.exit(1),
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    server.close().then(() => process.exit(0), (err: unknown) => {
      log.error({ err }, 'stop failed');
      process.exit(1);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
} catch (err) {
  log.fatal({ err }, 'stripe emulator failed to start');
  process.exit(1);
}
