// A typed client for the emulator's admin API, for the fault backends and tests.
import { request } from 'undici';
import type { FaultLayerInput, FaultsView } from './faults.ts';
import type { EmulatorStats } from './server.ts';

export class StripeEmulatorAdminError extends Error {
  override name = 'StripeEmulatorAdminError';
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.status = status;
  }
}

export class StripeEmulatorAdmin {
  readonly baseUrl: string;
  private readonly timeoutMs: number;

  /** `baseUrl`: the emulator's address, e.g. http://127.0.0.1:12111 */
  constructor(baseUrl: string, opts: { timeoutMs?: number } = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? 5000;
  }

  private async call<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
    const url = `${this.baseUrl}${path}`;
    let res;
    try {
      res = await request(url, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
    } catch (err) {
      throw new StripeEmulatorAdminError(`stripe emulator admin ${method} ${url}: ${(err as Error).message}`, 0);
    }
    const text = await res.body.text();
    if (res.statusCode >= 300) {
      throw new StripeEmulatorAdminError(`stripe emulator admin ${method} ${url} answered ${res.statusCode}: ${text.slice(0, 500)}`, res.statusCode);
    }
    return JSON.parse(text) as T;
  }

  /** Sets (or replaces) one fault layer, `id` 'default' unless given; returns every live layer and the combined effect. */
  setFaults(layer: FaultLayerInput): Promise<FaultsView> {
    return this.call('POST', '/_admin/faults', layer);
  }

  /** Removes one layer (by id) or all of them; idempotent. */
  clearFaults(id?: string): Promise<FaultsView & { removed: number }> {
    return this.call('DELETE', id === undefined ? '/_admin/faults' : `/_admin/faults/${encodeURIComponent(id)}`);
  }

  getFaults(): Promise<FaultsView> {
    return this.call('GET', '/_admin/faults');
  }

  stats(): Promise<EmulatorStats> {
    return this.call('GET', '/_admin/stats');
  }

  health(): Promise<{ status: string; payment_intents: number; uptime_s: number }> {
    return this.call('GET', '/health');
  }
}
