// The payment API as a process (the stack launches it): settings from the
// environment, graceful shutdown on SIGTERM/SIGINT.
import { startPaymentApi } from './app.ts';
import { configFromEnv } from './config.ts';

const api = await startPaymentApi(configFromEnv());
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    api.close().then(() => process.exit(0), () => process.exit(1));
  });
}
