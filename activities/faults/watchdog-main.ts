// Entry point of the stack's watchdog service (scripts/stack/services/watchdog.ts).
import { loadStackConfig } from '../../scripts/stack/config.ts';
import { closeFaults } from './engine.ts';
import { startWatchdog } from './watchdog.ts';

const config = loadStackConfig();
const intervalMs = Number(process.env.ORDEAL_WATCHDOG_INTERVAL_MS ?? 1000);
const watchdog = await startWatchdog({ port: config.ports.watchdog, intervalMs });
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void watchdog.close().then(closeFaults).finally(() => process.exit(0));
  });
}
