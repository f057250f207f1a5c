// Shared setup for the emulator tests: an emulator in this process on a fresh data
// dir and a free loopback port, and an SDK client pointed at it (no SDK retries, so
// every answer the emulator gives is what the test sees).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Stripe from 'stripe';
import { startStripeEmulator, type StripeEmulator, type StripeEmulatorOptions } from '../../systems/stripe-emulator/index.ts';

export interface Harness {
  emu: StripeEmulator;
  stripe: Stripe;
  dataDir: string;
  /** Stops this emulator and starts a new one on the same data dir and port. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export function sdk(emu: { sdkOptions: StripeEmulator['sdkOptions'] }, opts: Partial<ConstructorParameters<typeof Stripe>[1]> = {}): Stripe {
  return new Stripe('sk_test_ordeal_tests', { ...emu.sdkOptions, maxNetworkRetries: 0, timeout: 10_000, ...opts });
}

export async function harness(opts: Partial<StripeEmulatorOptions> = {}): Promise<Harness> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ordeal-stripe-emu-'));
  const start = (port?: number) => startStripeEmulator({ dataDir, logLevel: 'error', ...opts, ...(port ? { port } : {}) });
  const h: Harness = {
    emu: await start(),
    stripe: undefined as unknown as Stripe,
    dataDir,
    async restart() {
      const port = h.emu.port;
      await h.emu.close();
      h.emu = await start(port);
      h.stripe = sdk(h.emu);
    },
    async close() {
      await h.emu.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  h.stripe = sdk(h.emu);
  return h;
}

/** The error a rejected promise carries (fails the test when it resolves). */
export async function rejection(p: Promise<unknown>): Promise<Stripe.errors.StripeError> {
  try {
    await p;
  } catch (err) {
    return err as Stripe.errors.StripeError;
  }
  throw new Error('expected the request to fail, it succeeded');
}
