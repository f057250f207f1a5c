// The `ordeal` command line.
import { Command } from 'commander';
import { registerFaults } from './faults.ts';
import { registerStack } from './stack.ts';

const program = new Command('ordeal')
  .description('durable chaos experiments that prove exactly-once under load and failure')
  .showHelpAfterError();
registerStack(program);
registerFaults(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.stderr.write(`ordeal: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 2;
}
