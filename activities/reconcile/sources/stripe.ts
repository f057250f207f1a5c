// Stripe (or the stack's emulator) as a system of record, read with the official
// SDK: PaymentIntents searched by the run id in their metadata, every page.
import Stripe from 'stripe';
import type { RecordSink, RecordSource } from '../engine.ts';
import type { ReconcileSourceSpec } from '../types.ts';

type StripeSpec = Extract<ReconcileSourceSpec, { source: 'stripe' }>;

/** Emulators accept any key; a real account's key comes from the environment, never from a scenario. */
const EMULATOR_KEY = 'sk_test_ordeal_emulator';

export function stripeSource(spec: StripeSpec, defaultUrl: string): RecordSource {
  const url = new URL(spec.url ?? defaultUrl);
  const protocol = url.protocol === 'https:' ? 'https' : 'http';
  const port = url.port ? Number(url.port) : protocol === 'https' ? 443 : 80;
  const counted = spec.statuses === 'any' ? null : new Set(spec.statuses);

  return {
    name: spec.name,
    kind: 'stripe',
    async read(runId: string, sink: RecordSink, signal: AbortSignal) {
      const stripe = new Stripe(process.env[spec.api_key_env] ?? EMULATOR_KEY, {
        host: url.hostname, port, protocol, maxNetworkRetries: 3, timeout: 30_000, telemetry: false,
      });
      // Search syntax quotes values with single quotes; a run id never contains one, but be exact anyway.
      const query = `metadata['${spec.metadata_key.replace(/'/g, "\\'")}']:'${runId.replace(/'/g, "\\'")}'`;
      const skipped = new Map<string, number>();
      for await (const pi of stripe.paymentIntents.search({ query, limit: 100 })) {
        if (signal.aborted) throw signal.reason ?? new Error('aborted');
        // Search may match loosely (prefixes, eventual consistency): check the run id ourselves.
        if (pi.metadata?.[spec.metadata_key] !== runId) continue;
        if (counted && !counted.has(pi.status)) {
          skipped.set(pi.status, (skipped.get(pi.status) ?? 0) + 1);
          continue;
        }
        const id = pi.metadata?.[spec.id_field];
        sink.add(id ? String(id) : `(no metadata.${spec.id_field} on ${pi.id})`, pi.amount, pi.currency);
      }
      if (skipped.size > 0) {
        sink.warn(`PaymentIntents not counted (status not in ${[...counted!].join(', ')}): `
          + [...skipped].map(([s, n]) => `${n} ${s}`).join(', '));
      }
    },
  };
}
