// Delivering one notification: POST JSON, retried with backoff on network errors,
// timeouts, 429 and 5xx (a 4xx other than 429 will not get better by retrying).
// Delivery failures are returned, never thrown: a notification never changes a verdict.
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';

export interface Delivery {
  ok: boolean;
  attempts: number;
  error?: string;
}

export async function postJson(url: string, body: unknown, o: { attempts: number; backoffMs: number; timeoutMs: number }): Promise<Delivery> {
  let error = '';
  for (let attempt = 1; attempt <= o.attempts; attempt++) {
    let retryable = true;
    try {
      const res = await request(url, {
        method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', 'user-agent': 'ordeal-notify' },
        headersTimeout: o.timeoutMs, bodyTimeout: o.timeoutMs, signal: AbortSignal.timeout(o.timeoutMs),
      });
      const text = (await res.body.text()).slice(0, 200);
      if (res.statusCode >= 200 && res.statusCode < 300) return { ok: true, attempts: attempt };
      error = `HTTP ${res.statusCode}${text ? `: ${text.replace(/\s+/g, ' ').trim()}` : ''}`;
      retryable = res.statusCode === 429 || res.statusCode >= 500;
    } catch (err) {
      // The message only: undici errors may carry the request, URL included.
      error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    }
    if (!retryable) return { ok: false, attempts: attempt, error };
    if (attempt < o.attempts) await sleep(o.backoffMs * 2 ** (attempt - 1));
  }
  return { ok: false, attempts: o.attempts, error };
}
