// Provider faults, set through the admin API and held in memory only (a restart
// clears them, like a real provider recovering). Faults are layers with ids so that
// independent experiments' faults (errors from one, latency from another) can be
// added and reverted separately; each layer may carry a ttl, so a fault whose
// injector died still ends. The effective fault is the combination of live layers.
import { z } from 'zod';

const rate = z.number().min(0).max(1);

export const faultLayerSchema = z
  .object({
    /** Names the layer; setting the same id again replaces it (idempotent inject). */
    id: z.string().min(1).max(200).regex(/^[\w.:@/-]+$/, 'letters, digits and _ . : @ / - only').default('default'),
    /** Fraction of API requests answered 429 rate_limit before anything executes. */
    error_rate_429: rate.default(0),
    /** Fraction of API requests answered 500 api_error before anything executes. */
    error_rate_500: rate.default(0),
    /** Added to every API request, inside the idempotency in-flight window. */
    latency_ms: z.number().int().min(0).max(600_000).default(0),
    /** Uniform extra latency in [0, latency_jitter_ms). */
    latency_jitter_ms: z.number().int().min(0).max(600_000).default(0),
    /** Fraction of requests that commit and then lose their response. */
    response_lost_rate: rate.default(0),
    /**
     * How a lost response looks to the client: `reset` closes the connection at once
     * (note the stripe SDK retries a reset connection once by itself, with the same
     * key, so it usually recovers the answer); `timeout` holds the connection silent
     * for `response_lost_hold_ms` (the client's own timeout fires first).
     */
    response_lost_mode: z.enum(['reset', 'timeout']).default('reset'),
    response_lost_hold_ms: z.number().int().min(0).max(600_000).default(120_000),
    /** Only requests with these methods are affected (all when absent). */
    methods: z.array(z.enum(['GET', 'POST', 'DELETE'])).min(1).optional(),
    /** The layer removes itself after this long. */
    ttl_ms: z.number().int().positive().max(7 * 24 * 3600_000).optional(),
  })
  .strict();

export type FaultLayerInput = z.input<typeof faultLayerSchema>;
export type FaultLayerSpec = z.output<typeof faultLayerSchema>;

export interface FaultLayer extends FaultLayerSpec {
  set_at: string;
  expires_at: string | null;
}

export interface EffectiveFaults {
  error_rate_429: number;
  error_rate_500: number;
  latency_ms: number;
  latency_jitter_ms: number;
  response_lost_rate: number;
  response_lost_mode: 'reset' | 'timeout';
  response_lost_hold_ms: number;
}

export interface FaultsView {
  layers: FaultLayer[];
  /** For a request of any method: rates combined over the live layers. */
  effective: EffectiveFaults;
}

/** What the fault layer decided for one request. */
export interface FaultDecision {
  latencyMs: number;
  error: 429 | 500 | null;
  responseLost: boolean;
  lostMode: 'reset' | 'timeout';
  lostHoldMs: number;
}

const NONE: FaultDecision = { latencyMs: 0, error: null, responseLost: false, lostMode: 'reset', lostHoldMs: 0 };

export class FaultController {
  private layers = new Map<string, FaultLayer & { expiresAtMs: number }>();
  private readonly random: () => number;

  constructor(random: () => number = Math.random) {
    this.random = random;
  }

  set(spec: FaultLayerSpec, now = Date.now()): FaultLayer {
    const expiresAtMs = spec.ttl_ms ? now + spec.ttl_ms : Infinity;
    const layer = {
      ...spec,
      set_at: new Date(now).toISOString(),
      expires_at: Number.isFinite(expiresAtMs) ? new Date(expiresAtMs).toISOString() : null,
    };
    this.layers.delete(spec.id); // re-insert: map order is set order
    this.layers.set(spec.id, { ...layer, expiresAtMs });
    return layer;
  }

  remove(id: string): boolean {
    return this.layers.delete(id);
  }

  clear(): number {
    const n = this.layers.size;
    this.layers.clear();
    return n;
  }

  get active(): boolean {
    return this.layers.size > 0;
  }

  private live(now: number): (FaultLayer & { expiresAtMs: number })[] {
    const out = [];
    for (const [id, l] of this.layers) {
      if (l.expiresAtMs <= now) this.layers.delete(id);
      else out.push(l);
    }
    return out;
  }

  view(now = Date.now()): FaultsView {
    const layers = this.live(now);
    return {
      layers: layers.map(({ expiresAtMs: _omit, ...l }) => l),
      effective: combine(layers),
    };
  }

  decide(method: string, now = Date.now()): FaultDecision {
    if (this.layers.size === 0) return NONE;
    const layers = this.live(now).filter((l) => !l.methods || l.methods.includes(method as 'GET'));
    if (layers.length === 0) return NONE;
    const eff = combine(layers);
    const latencyMs = eff.latency_ms + (eff.latency_jitter_ms > 0 ? Math.floor(this.random() * eff.latency_jitter_ms) : 0);
    const r = this.random();
    const error = r < eff.error_rate_429 ? 429 : r < eff.error_rate_429 + eff.error_rate_500 ? 500 : null;
    const responseLost = error === null && eff.response_lost_rate > 0 && this.random() < eff.response_lost_rate;
    return { latencyMs, error, responseLost, lostMode: eff.response_lost_mode, lostHoldMs: eff.response_lost_hold_ms };
  }
}

function combine(layers: readonly FaultLayerSpec[]): EffectiveFaults {
  let p429 = 0;
  let p500 = 0;
  let latency = 0;
  let jitter = 0;
  let keep = 1;
  let mode: 'reset' | 'timeout' = 'reset';
  let hold = 0;
  for (const l of layers) {
    if (l.response_lost_rate > 0 && l.response_lost_mode === 'timeout') {
      mode = 'timeout';
      hold = Math.max(hold, l.response_lost_hold_ms);
    }
    p429 += l.error_rate_429;
    p500 += l.error_rate_500;
    latency += l.latency_ms;
    jitter += l.latency_jitter_ms;
    keep *= 1 - l.response_lost_rate;
  }
  p429 = Math.min(1, p429);
  p500 = Math.min(1 - p429, p500);
  return { error_rate_429: p429, error_rate_500: p500, latency_ms: latency, latency_jitter_ms: jitter, response_lost_rate: 1 - keep,
    response_lost_mode: mode, response_lost_hold_ms: hold };
}
