// The Stripe emulator: a stateful, Stripe-compatible HTTP server for what Ordeal
// uses (PaymentIntents, Refunds, search by metadata, idempotency keys), driven by
// the official `stripe` SDK, with an admin API for provider faults.
//
//   const emu = await startStripeEmulator({ dataDir });
//   const stripe = new Stripe('sk_test_x', { ...emu.sdkOptions });
//   await emu.admin.setFaults({ error_rate_429: 0.2 });
import { StripeEmulatorAdmin } from './admin-client.ts';
import { startServer, type StripeEmulatorOptions, type StripeEmulatorServer } from './server.ts';

export { StripeEmulatorAdmin, StripeEmulatorAdminError } from './admin-client.ts';
export { faultLayerSchema } from './faults.ts';
export type { EffectiveFaults, FaultLayer, FaultLayerInput, FaultsView } from './faults.ts';
export type { PaymentIntent, Refund } from './objects.ts';
export type { EmulatorStats, StripeEmulatorOptions } from './server.ts';

export interface StripeEmulator {
  url: string;
  host: string;
  port: number;
  /** Spread into `new Stripe(key, { ...sdkOptions })`. */
  sdkOptions: { host: string; port: number; protocol: 'http' };
  admin: StripeEmulatorAdmin;
  server: StripeEmulatorServer;
  close(): Promise<void>;
}

/** Starts an emulator in this process (tests, benchmarks); the stack runs main.ts instead. */
export async function startStripeEmulator(opts: StripeEmulatorOptions): Promise<StripeEmulator> {
  const server = await startServer(opts);
  return {
    url: server.url,
    host: server.host,
    port: server.port,
    sdkOptions: { host: server.host, port: server.port, protocol: 'http' },
    admin: new StripeEmulatorAdmin(server.url),
    server,
    close: () => server.close(),
  };
}

/** The emulator's address for clients when only the port is known (the stack's). */
export function stripeEmulatorUrl(port: number, host = '127.0.0.1'): string {
  return `http://${host}:${port}`;
}
