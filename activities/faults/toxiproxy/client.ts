// A typed client for Toxiproxy's HTTP API (the API is small; no SDK needed).
// Used by the stack supervisor to declare proxies and by the network fault package.
import { request } from 'undici';

export type ToxicType = 'latency' | 'bandwidth' | 'slow_close' | 'timeout' | 'reset_peer' | 'slicer' | 'limit_data';

export interface Toxic {
  name: string;
  type: ToxicType;
  stream: 'upstream' | 'downstream';
  toxicity: number;
  attributes: Record<string, number>;
}

export interface Proxy {
  name: string;
  listen: string;
  upstream: string;
  enabled: boolean;
  toxics: Toxic[];
}

export interface ProxyDeclaration {
  name: string;
  listen: string;
  upstream: string;
  enabled?: boolean;
}

export class ToxiproxyError extends Error {
  override name = 'ToxiproxyError';
  readonly status: number | undefined;
  constructor(message: string, status?: number) {
    super(message);
    this.status = status;
  }
}

export class ToxiproxyClient {
  readonly baseUrl: string;
  constructor(baseUrl: string) {
    this.baseUrl = baseUrl.replace(/\/$/, '');
  }

  async version(): Promise<string> {
    const v = await this.call('GET', '/version');
    // Released builds answer {"version":"2.12.0"}; older ones a bare string.
    return typeof v === 'object' && v !== null && 'version' in v ? String(v.version) : String(v);
  }

  async proxies(): Promise<Record<string, Proxy>> {
    return (await this.call('GET', '/proxies')) as Record<string, Proxy>;
  }

  async proxy(name: string): Promise<Proxy> {
    return (await this.call('GET', `/proxies/${encodeURIComponent(name)}`)) as Proxy;
  }

  /** Creates or replaces the proxies, as one request. */
  async populate(decls: ProxyDeclaration[]): Promise<void> {
    await this.call('POST', '/populate', decls.map((d) => ({ enabled: true, ...d })));
  }

  /** Creates one proxy; a ToxiproxyError with status 409 when the name is taken. */
  async createProxy(decl: ProxyDeclaration): Promise<Proxy> {
    return (await this.call('POST', '/proxies', { enabled: true, ...decl })) as Proxy;
  }

  /** Changes a proxy's listen/upstream/enabled in place (its toxics stay). */
  async updateProxy(name: string, change: Partial<Omit<ProxyDeclaration, 'name'>>): Promise<Proxy> {
    return (await this.call('POST', `/proxies/${encodeURIComponent(name)}`, change)) as Proxy;
  }

  /** Idempotent: deleting a proxy that is already gone succeeds (false: there was none). */
  async deleteProxy(name: string): Promise<boolean> {
    try {
      await this.call('DELETE', `/proxies/${encodeURIComponent(name)}`);
      return true;
    } catch (err) {
      if (err instanceof ToxiproxyError && err.status === 404) return false;
      throw err;
    }
  }

  async setEnabled(name: string, enabled: boolean): Promise<Proxy> {
    return (await this.call('POST', `/proxies/${encodeURIComponent(name)}`, { enabled })) as Proxy;
  }

  async addToxic(proxy: string, toxic: Omit<Toxic, 'toxicity'> & { toxicity?: number }): Promise<Toxic> {
    return (await this.call('POST', `/proxies/${encodeURIComponent(proxy)}/toxics`, { toxicity: 1, ...toxic })) as Toxic;
  }

  /** Idempotent: removing a toxic that is already gone succeeds. */
  async removeToxic(proxy: string, toxic: string): Promise<void> {
    try {
      await this.call('DELETE', `/proxies/${encodeURIComponent(proxy)}/toxics/${encodeURIComponent(toxic)}`);
    } catch (err) {
      if (err instanceof ToxiproxyError && err.status === 404) return;
      throw err;
    }
  }

  /** Re-enables every proxy and removes every toxic. */
  async reset(): Promise<void> {
    await this.call('POST', '/reset');
  }

  private async call(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<unknown> {
    const res = await request(this.baseUrl + path, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      headersTimeout: 5000,
      bodyTimeout: 5000,
    });
    const text = await res.body.text();
    if (res.statusCode >= 300) {
      throw new ToxiproxyError(`toxiproxy ${method} ${path} answered ${res.statusCode}: ${text.trim()}`, res.statusCode);
    }
    if (text === '') return undefined;
    try {
      return JSON.parse(text);
    } catch {
      return text.trim();
    }
  }
}
