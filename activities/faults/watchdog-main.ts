// Entry point of the fault watchdog: `node --import <host's environment> watchdog-main.ts --port N`.
// The host (the embedded stack: its watchdog service) sets the environment up.
import { parseArgs } from 'node:util';
import { closeFaults } from './engine.ts';
import { startWatchdog } from './watchdog.ts';

const { values } = parseArgs({ options: { port: { type: 'string' } } });
const port = Number(values.port);
if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`watchdog: --port must be a TCP port, got ${values.port ?? 'nothing'}`);
const intervalMs = Number(process.env.ORDEAL_WATCHDOG_INTERVAL_MS ?? 1000);
const watchdog = await startWatchdog({ port, intervalMs });
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void watchdog.close().then(closeFaults).finally(() => process.exit(0));
  });
}
