// The `provider` backend: payment-provider faults, set through the Stripe emulator's
// admin API. Each fault is registered under the fault's own id, so a revert removes
// exactly it.
import { request } from 'undici';
import { paramProblems, type FaultBackend, type FaultContext, type Observation } from '../backend.ts';
import type { FaultSpec } from '../types.ts';

const targets = ['stripe', 'stripe-emulator'];
const urlOf = (ctx: FaultContext) => `http://127.0.0.1:${ctx.config.ports.stripe_emulator}`;

async function call(base: string, method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const res = await request(base + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    headersTimeout: 5000,
    bodyTimeout: 5000,
  });
  const text = await res.body.text();
  let json: unknown = text;
  try { json = text ? JSON.parse(text) : undefined; } catch { /* plain text */ }
  return { status: res.statusCode, json };
}

function faultBody(spec: FaultSpec, faultId: string): Record<string, unknown> {
  const p = spec.params;
  const rate = p.rate === undefined ? 1 : Number(p.rate);
  switch (spec.type) {
    case 'provider_errors': return { id: faultId, kind: 'error', status: p.status === undefined ? 429 : Number(p.status), rate };
    case 'provider_latency': return { id: faultId, kind: 'latency', latency_ms: p.latency_ms === undefined ? 1000 : Number(p.latency_ms), rate };
    default: return { id: faultId, kind: 'response_lost', rate };
  }
}

export function providerBackend(): FaultBackend {
  return {
    name: 'provider',
    types: ['provider_errors', 'provider_latency', 'provider_response_lost'],

    check(spec) {
      const problems = targets.includes(spec.target) ? [] : [`unknown target "${spec.target}" for the provider backend; targets: ${targets.join(', ')}`];
      const rules: Record<string, [number, number] | readonly string[]> = { rate: [0, 1] };
      if (spec.type === 'provider_errors') rules.status = ['429', '500', '502', '503', '504'];
      if (spec.type === 'provider_latency') rules.latency_ms = [0, 600_000];
      return [...problems, ...paramProblems(spec, rules)];
    },

    async probe(_spec, ctx) {
      try {
        const r = await call(urlOf(ctx), 'GET', '/_admin/faults');
        return r.status < 300 ? [] : [`the Stripe emulator at ${urlOf(ctx)} answered ${r.status} to GET /_admin/faults`];
      } catch (err) {
        return [`the Stripe emulator at ${urlOf(ctx)} is not reachable: ${(err as Error).message}`];
      }
    },

    async plan(spec, faultId, ctx) {
      return { url: urlOf(ctx), id: faultId, body: JSON.stringify(faultBody(spec, faultId)) };
    },

    async inject(handle) {
      const r = await call(String(handle.revert.url), 'POST', '/_admin/faults', JSON.parse(String(handle.revert.body)));
      if (r.status >= 300) throw new Error(`Stripe emulator refused the fault: ${r.status} ${JSON.stringify(r.json)}`);
    },

    async revert(handle) {
      const r = await call(String(handle.revert.url), 'DELETE', `/_admin/faults/${encodeURIComponent(String(handle.revert.id))}`);
      if (r.status === 404) return { alreadyReverted: true, detail: `the emulator has no fault ${String(handle.revert.id)}` };
      if (r.status >= 300) throw new Error(`Stripe emulator answered ${r.status} to removing fault ${String(handle.revert.id)}: ${JSON.stringify(r.json)}`);
      return { alreadyReverted: false, detail: `removed emulator fault ${String(handle.revert.id)}` };
    },

    async evidence(handle): Promise<Observation[]> {
      const r = await call(String(handle.revert.url), 'GET', '/_admin/faults');
      const list = Array.isArray(r.json) ? r.json as { id?: string }[] : [];
      const ours = list.find((f) => f.id === handle.revert.id);
      return [{ ok: ours !== undefined, description: ours ? `emulator fault config: ${JSON.stringify(ours)}` : `the emulator lists no fault ${String(handle.revert.id)}` }];
    },
  };
}
