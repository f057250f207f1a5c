// The `provider` backend: payment-provider faults (429s, 5xx, latency, responses
// lost after commit), set as a named layer through the Stripe emulator's admin API.
// The layer is named after the fault, so a revert removes exactly it; it also
// carries a ttl (the lease plus a margin), so the emulator ends it by itself even if
// every reverter and the watchdog are gone.
import { StripeEmulatorAdmin, StripeEmulatorAdminError } from '../../../systems/stripe-emulator/admin-client.ts';
import type { FaultLayerInput } from '../../../systems/stripe-emulator/faults.ts';
import { FaultPreconditionError, paramProblems, type FaultBackend, type FaultContext, type Observation, type ParamRule } from '../backend.ts';
import type { FaultSpec } from '../types.ts';

const targets = ['stripe', 'stripe-emulator'];
const TTL_MARGIN_MS = 60_000;
const methods = ['GET', 'POST', 'DELETE'] as const;

/** The system's provider admin URL; a precondition error when the system declares none. */
function urlOf(ctx: FaultContext): string {
  const url = ctx.system.provider?.admin_url;
  if (!url) throw new FaultPreconditionError(`system ${ctx.system.name} declares no provider (provider.admin_url), so provider faults have nothing to act on`);
  return url;
}

function layerOf(spec: FaultSpec, id: string, ttlMs: number): FaultLayerInput {
  const p = spec.params;
  const rate = p.rate === undefined ? 1 : Number(p.rate);
  const layer: FaultLayerInput = { id, ttl_ms: Math.max(1, Math.round(ttlMs)) };
  if (p.methods !== undefined) layer.methods = String(p.methods).split(',').map((m) => m.trim().toUpperCase()) as (typeof methods)[number][];
  switch (spec.type) {
    case 'provider_errors':
      if (String(p.status ?? 429) === '500') layer.error_rate_500 = rate;
      else layer.error_rate_429 = rate;
      break;
    case 'provider_latency':
      layer.latency_ms = p.latency_ms === undefined ? 1000 : Number(p.latency_ms);
      layer.latency_jitter_ms = p.jitter_ms === undefined ? 0 : Number(p.jitter_ms);
      break;
    default:
      layer.response_lost_rate = rate;
  }
  return layer;
}

export function providerBackend(): FaultBackend {
  return {
    name: 'provider',
    types: ['provider_errors', 'provider_latency', 'provider_response_lost'],

    check(spec, ctx) {
      const problems = targets.includes(spec.target) ? [] : [`unknown target "${spec.target}" for the provider backend; targets: ${targets.join(', ')}`];
      if (!ctx.system.provider) problems.push(`system ${ctx.system.name} declares no provider (provider.admin_url)`);
      const rules: Record<string, ParamRule> = { rate: [0, 1], methods: 'text' };
      if (spec.type === 'provider_errors') rules.status = ['429', '500'];
      if (spec.type === 'provider_latency') Object.assign(rules, { latency_ms: [0, 600_000], jitter_ms: [0, 600_000] });
      const out = [...problems, ...paramProblems(spec, rules)];
      if (spec.params.methods !== undefined) {
        const bad = String(spec.params.methods).split(',').map((m) => m.trim().toUpperCase()).filter((m) => !(methods as readonly string[]).includes(m));
        if (bad.length) out.push(`params.methods must be a comma-separated list of ${methods.join(', ')}, got ${bad.join(', ')}`);
      }
      return out;
    },

    async probe(_spec, ctx) {
      try {
        await new StripeEmulatorAdmin(urlOf(ctx), { timeoutMs: 2000 }).getFaults();
        return [];
      } catch (err) {
        return [`the Stripe emulator's admin API at ${urlOf(ctx)} is not reachable: ${(err as Error).message}`];
      }
    },

    async plan(spec, faultId, ctx, leaseExpiresAt) {
      const layer = layerOf(spec, faultId, leaseExpiresAt.getTime() - Date.now() + TTL_MARGIN_MS);
      return { url: urlOf(ctx), id: faultId, layer: JSON.stringify(layer) };
    },

    async inject(handle) {
      // Setting a layer under the same id replaces it: a retried inject is harmless.
      await new StripeEmulatorAdmin(String(handle.revert.url)).setFaults(JSON.parse(String(handle.revert.layer)) as FaultLayerInput);
    },

    async revert(handle) {
      const admin = new StripeEmulatorAdmin(String(handle.revert.url));
      const id = String(handle.revert.id);
      let removed;
      try {
        removed = (await admin.clearFaults(id)).removed;
      } catch (err) {
        if (err instanceof StripeEmulatorAdminError && err.status === 404) removed = 0;
        else throw err;
      }
      return removed
        ? { alreadyReverted: false, detail: `removed provider fault layer ${id} from the Stripe emulator` }
        : { alreadyReverted: true, detail: `the Stripe emulator has no fault layer ${id} (reverted, expired or emulator restarted)` };
    },

    async evidence(handle): Promise<Observation[]> {
      const view = await new StripeEmulatorAdmin(String(handle.revert.url)).getFaults();
      const ours = view.layers.find((l) => l.id === handle.revert.id);
      if (!ours) return [{ ok: false, description: `the Stripe emulator lists no fault layer ${String(handle.revert.id)}` }];
      const { id: _id, set_at: _set, ...settings } = ours;
      return [{ ok: true, description: `Stripe emulator fault layer ${ours.id}: ${JSON.stringify(settings)}; effective ${JSON.stringify(view.effective)}` }];
    },
  };
}
