// Health and business probes against the system under test. A probe is one HTTP
// request with a short timeout; "healthy" is a 2xx (or an expected status).
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';

export interface ProbeResult {
  ok: boolean;
  status: number | null;
  latency_ms: number;
  error?: string;
  at: number;
}

export interface HttpProbe {
  url: string;
  method?: 'GET' | 'HEAD' | 'POST';
  headers?: Record<string, string>;
  body?: unknown;
  expect_status?: number[];
  timeoutMs?: number;
}

export async function probeOnce(p: HttpProbe): Promise<ProbeResult> {
  const t0 = performance.now();
  const at = Date.now();
  const timeout = p.timeoutMs ?? 2000;
  try {
    const res = await request(p.url, {
      method: p.method ?? 'GET',
      headers: { 'user-agent': 'ordeal-probe', ...(p.body !== undefined ? { 'content-type': 'application/json' } : {}), ...p.headers },
      body: p.body === undefined ? undefined : JSON.stringify(p.body),
      headersTimeout: timeout,
      bodyTimeout: timeout,
      signal: AbortSignal.timeout(timeout),
    });
    await res.body.dump();
    const ok = p.expect_status ? p.expect_status.includes(res.statusCode) : res.statusCode >= 200 && res.statusCode < 300;
    return { ok, status: res.statusCode, latency_ms: performance.now() - t0, at, ...(ok ? {} : { error: `HTTP ${res.statusCode}` }) };
  } catch (err) {
    // A hung system's probe times out: say so in words ("The operation was aborted due to timeout" is undici's).
    const e = err as Error & { code?: string };
    const timedOut = e.name === 'TimeoutError' || e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_BODY_TIMEOUT';
    return { ok: false, status: null, latency_ms: performance.now() - t0, at, error: timedOut ? `no answer within ${timeout} ms` : e.message };
  }
}

export interface SteadyStateInput {
  url: string;
  timeoutMs: number;
  healthyProbes: number;
  intervalMs: number;
}

export interface SteadyStateResult {
  healthy: boolean;
  waited_ms: number;
  probes: number;
  last_error?: string;
}

/** Healthy means `healthyProbes` consecutive good probes before the timeout. */
export async function steadyState(input: SteadyStateInput, onProbe?: (r: ProbeResult) => void, signal?: AbortSignal): Promise<SteadyStateResult> {
  const t0 = Date.now();
  let streak = 0;
  let probes = 0;
  let last: ProbeResult | undefined;
  while (Date.now() - t0 < input.timeoutMs && !signal?.aborted) {
    last = await probeOnce({ url: input.url });
    probes++;
    onProbe?.(last);
    streak = last.ok ? streak + 1 : 0;
    if (streak >= input.healthyProbes) return { healthy: true, waited_ms: Date.now() - t0, probes };
    await sleep(input.intervalMs, undefined, { signal }).catch(() => {});
  }
  return { healthy: false, waited_ms: Date.now() - t0, probes, ...(last?.error ? { last_error: last.error } : {}) };
}

export interface RecoveryInput {
  probe: string;
  business?: HttpProbe;
  /** Epoch ms of the (last) revert: time to recovery is measured from here. */
  since: number;
  timeoutMs: number;
  intervalMs: number;
}

export interface RecoveryMeasurement {
  recovered: boolean;
  time_to_healthy_ms: number | null;
  time_to_first_success_ms: number | null;
  probes: number;
  last_error?: string;
}

/**
 * Waits for the first healthy probe, then for the first successful business request
 * (when one is configured), measuring both from the revert.
 */
export async function awaitRecovery(input: RecoveryInput, onProbe?: (r: ProbeResult) => void, signal?: AbortSignal): Promise<RecoveryMeasurement> {
  const deadline = Math.max(Date.now(), input.since) + input.timeoutMs;
  let healthyAt: number | null = null;
  let successAt: number | null = null;
  let probes = 0;
  let lastError: string | undefined;
  while (Date.now() < deadline && !signal?.aborted) {
    if (healthyAt === null) {
      const r = await probeOnce({ url: input.probe });
      probes++;
      onProbe?.(r);
      if (r.ok) healthyAt = r.at + r.latency_ms;
      else lastError = r.error;
    }
    if (healthyAt !== null) {
      if (!input.business) break;
      const r = await probeOnce(input.business);
      probes++;
      onProbe?.(r);
      if (r.ok) {
        successAt = r.at + r.latency_ms;
        break;
      }
      lastError = r.error;
    }
    await sleep(input.intervalMs, undefined, { signal }).catch(() => {});
  }
  const since = (t: number | null) => (t === null ? null : Math.max(0, Math.round(t - input.since)));
  const recovered = healthyAt !== null && (!input.business || successAt !== null);
  return {
    recovered,
    time_to_healthy_ms: since(healthyAt),
    time_to_first_success_ms: since(successAt),
    probes,
    ...(recovered || !lastError ? {} : { last_error: lastError }),
  };
}

export interface WatchInput {
  url: string;
  intervalMs: number;
  abortIfDownForMs: number;
  /** Down since (epoch ms), carried over from a previous attempt's heartbeat. */
  downSince?: number | null;
}

export interface BreakerTrip {
  tripped: true;
  down_since: number;
  down_for_ms: number;
  last_error: string;
}

/**
 * The circuit breaker's probe loop: returns only when the system has been down
 * (every probe failing) for longer than abortIfDownForMs; runs until aborted otherwise.
 */
export async function watchUntilDown(input: WatchInput, onState: (downSince: number | null, r: ProbeResult) => void,
  signal: AbortSignal): Promise<BreakerTrip | null> {
  let downSince = input.downSince ?? null;
  while (!signal.aborted) {
    const r = await probeOnce({ url: input.url, timeoutMs: Math.min(2000, Math.max(200, input.intervalMs)) });
    if (r.ok) downSince = null;
    else downSince ??= r.at;
    onState(downSince, r);
    if (downSince !== null && Date.now() - downSince >= input.abortIfDownForMs) {
      return { tripped: true, down_since: downSince, down_for_ms: Date.now() - downSince, last_error: r.error ?? 'unhealthy' };
    }
    await sleep(input.intervalMs, undefined, { signal }).catch(() => {});
  }
  return null;
}
