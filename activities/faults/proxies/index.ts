// Run proxies: each proxy a system file declares ({ listen, upstream }) is created in
// Ordeal's Toxiproxy when a run starts, named ordeal-<runId>-<name>, so that network
// faults act on the user's real connections once their service points at `listen`.
// Like a fault, a run proxy carries a lease written before it is created: the run
// removes its proxies when it ends, and the watchdog removes those of runs that died.
import { FaultPreconditionError } from '../backend.ts';
import type { LeaseStore, RunProxyRow } from '../leases.ts';
import type { ProxyDecl } from '../../system/schema.ts';
import { ToxiproxyClient, ToxiproxyError, type Proxy } from '../toxiproxy/client.ts';

export interface RunProxy {
  /** The declared name (what faults target). */
  name: string;
  /** The name in Toxiproxy. */
  proxyName: string;
  listen: string;
  upstream: string;
  /** created: made for this run; existing: made by an earlier attempt; adopted: another proxy already routes the same way (never removed by the run). */
  state: 'created' | 'existing' | 'adopted';
}

/** Toxiproxy names travel in URL paths: keep them to a safe alphabet. */
export function runProxyName(runId: string, name: string): string {
  return `ordeal-${runId}-${name}`.replace(/[^A-Za-z0-9_.-]/g, '_');
}

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|\[::1\])$/;

/** Problems with one declaration: both ends must be host:port on loopback (the network rule). */
export function proxyDeclProblems(name: string, decl: ProxyDecl): string[] {
  const out: string[] = [];
  for (const [field, value] of [['listen', decl.listen], ['upstream', decl.upstream]] as const) {
    const m = /^(.+):(\d{1,5})$/.exec(value);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) out.push(`proxies.${name}.${field}: expected host:port, got ${JSON.stringify(value)}`);
    else if (!LOOPBACK.test(m[1]!)) out.push(`proxies.${name}.${field}: ${value} is not a loopback address (Ordeal sends fault traffic to 127.0.0.0/8 only)`);
  }
  if (decl.listen === decl.upstream) out.push(`proxies.${name}: listen and upstream are both ${decl.listen}`);
  return out;
}

const sameAddr = (a: string, b: string) => a.replace(/^localhost:/, '127.0.0.1:') === b.replace(/^localhost:/, '127.0.0.1:');
const routesLike = (p: Proxy, decl: ProxyDecl) => sameAddr(p.listen, decl.listen) && sameAddr(p.upstream, decl.upstream);

/**
 * Idempotent: a retried call finds its proxies and leaves them; a proxy of the same
 * route that exists already (the embedded stack's own) is adopted, not duplicated.
 * On a failure, the proxies this call created are removed again.
 */
export async function createRunProxies(store: LeaseStore, toxiproxyUrl: string, input: { runId: string; proxies: Record<string, ProxyDecl>; leaseMs: number }): Promise<RunProxy[]> {
  const problems = Object.entries(input.proxies).flatMap(([name, decl]) => proxyDeclProblems(name, decl));
  if (problems.length) throw new FaultPreconditionError(`cannot create the run's proxies: ${problems.join('; ')}`);
  const client = new ToxiproxyClient(toxiproxyUrl);
  const leaseExpiresAt = new Date(Date.now() + input.leaseMs);
  const out: RunProxy[] = [];
  try {
    for (const [name, decl] of Object.entries(input.proxies)) {
      const proxyName = runProxyName(input.runId, name);
      const all = await client.proxies();
      const mine = all[proxyName];
      if (!mine) {
        const other = Object.values(all).find((p) => routesLike(p, decl));
        if (other) { out.push({ name, proxyName: other.name, listen: other.listen, upstream: other.upstream, state: 'adopted' }); continue; }
        const holder = Object.values(all).find((p) => sameAddr(p.listen, decl.listen));
        if (holder) {
          throw new FaultPreconditionError(`proxy ${name}: ${decl.listen} is already the listen address of Toxiproxy proxy "${holder.name}" (→ ${holder.upstream}); ` +
            'another run of this system is probably in progress');
        }
      }
      await store.recordRunProxy({ proxyName, runId: input.runId, name, listen: decl.listen, upstream: decl.upstream, toxiproxyUrl, leaseExpiresAt });
      if (mine) {
        if (!routesLike(mine, decl) || !mine.enabled) await client.updateProxy(proxyName, { listen: decl.listen, upstream: decl.upstream, enabled: true });
        out.push({ name, proxyName, listen: decl.listen, upstream: decl.upstream, state: 'existing' });
        continue;
      }
      try {
        await client.createProxy({ name: proxyName, listen: decl.listen, upstream: decl.upstream });
      } catch (err) {
        if (err instanceof ToxiproxyError && err.status !== 409) {
          throw new FaultPreconditionError(`cannot create proxy ${name} (${decl.listen} → ${decl.upstream}) in Toxiproxy at ${toxiproxyUrl}: ${err.message}`);
        }
        if (!(err instanceof ToxiproxyError)) throw err;
      }
      out.push({ name, proxyName, listen: decl.listen, upstream: decl.upstream, state: 'created' });
    }
  } catch (err) {
    for (const p of out.filter((x) => x.state === 'created')) {
      await client.deleteProxy(p.proxyName).catch(() => {});
      await store.markRunProxyRemoved(p.proxyName, 'create-failed').catch(() => {});
    }
    throw err;
  }
  return out;
}

/** Removes proxies by their lease rows; idempotent (a proxy already gone counts as removed). */
export async function removeProxies(store: LeaseStore, rows: RunProxyRow[], by: string): Promise<{ removed: string[]; errors: string[] }> {
  const removed: string[] = [];
  const errors: string[] = [];
  for (const row of rows) {
    try {
      await new ToxiproxyClient(row.toxiproxyUrl).deleteProxy(row.proxyName);
      await store.markRunProxyRemoved(row.proxyName, by);
      removed.push(row.proxyName);
    } catch (err) {
      errors.push(`${row.proxyName}: ${(err as Error).message}`);
    }
  }
  return { removed, errors };
}

/** The run's end: every proxy it created goes (adopted ones were never its own). */
export async function removeRunProxies(store: LeaseStore, runId: string, by = 'worker'): Promise<{ removed: string[]; errors: string[] }> {
  return removeProxies(store, await store.runProxies({ runId }), by);
}

/** The watchdog's share: proxies whose run died (lease ran out). */
export async function sweepRunProxies(store: LeaseStore, by = 'watchdog'): Promise<{ removed: string[]; errors: string[] }> {
  return removeProxies(store, await store.runProxies({ expiredOnly: true }), by);
}
