// The `ordeal` command line.
import { Command } from 'commander';
import '../stack/use-environment.ts';
import { registerExperiments } from './experiment.ts';
import { registerFaults } from './faults.ts';
import { registerSchedules } from './schedule.ts';
import { registerStack } from './stack.ts';
import { registerValidate } from './validate.ts';
import { registerWorker } from './worker.ts';

// `ordeal ... | head` closes our stdout early; that ends the output, not the command in error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

const program = new Command('ordeal')
  .description('durable chaos experiments that prove exactly-once under load and failure')
  .showHelpAfterError();
registerStack(program);
registerExperiments(program);
registerValidate(program);
registerSchedules(program);
registerWorker(program);
registerFaults(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.stderr.write(`ordeal: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 2;
}
