// The `toxiproxy` backend: network faults on a proxy the system file declares
// (`listen` -> `upstream`), applied on the Toxiproxy proxy that serves that listen
// address: the stack's own routes, or the run's proxy Ordeal created for it. Toxics
// are named after the fault, so a revert removes exactly this fault's toxics.
import { connect } from 'node:net';
import { protectedComponents, type ProxyDecl, type SystemFile } from '../../system/schema.ts';
import { FaultPreconditionError, paramProblems, type FaultBackend, type FaultContext, type Observation } from '../backend.ts';
import { runProxyName } from '../proxies/index.ts';
import type { FaultHandle, FaultSpec, FaultType } from '../types.ts';
import { ToxiproxyClient, ToxiproxyError, type Toxic, type ToxicType } from './client.ts';

export { ToxiproxyClient, ToxiproxyError } from './client.ts';

type Stream = 'upstream' | 'downstream';

const paramRules: Partial<Record<FaultType, Record<string, [number, number] | readonly string[]>>> = {
  network_latency: { latency_ms: [0, 600_000], jitter_ms: [0, 600_000], stream: ['upstream', 'downstream', 'both'], toxicity: [0, 1] },
  network_bandwidth: { rate_kbps: [0, 10_000_000], stream: ['upstream', 'downstream', 'both'], toxicity: [0, 1] },
  network_timeout: { timeout_ms: [0, 3_600_000], stream: ['upstream', 'downstream', 'both'], toxicity: [0, 1] },
  network_reset: { timeout_ms: [0, 3_600_000], stream: ['upstream', 'downstream', 'both'], toxicity: [0, 1] },
  network_slow_close: { delay_ms: [0, 600_000], stream: ['upstream', 'downstream', 'both'], toxicity: [0, 1] },
  network_partition: {},
};

function toxicOf(spec: FaultSpec): { type: ToxicType; attributes: Record<string, number>; defaultStream: Stream } {
  const p = spec.params;
  const n = (k: string, d: number) => (p[k] === undefined ? d : Number(p[k]));
  switch (spec.type) {
    case 'network_latency': return { type: 'latency', attributes: { latency: n('latency_ms', 500), jitter: n('jitter_ms', 0) }, defaultStream: 'downstream' };
    case 'network_bandwidth': return { type: 'bandwidth', attributes: { rate: n('rate_kbps', 16) }, defaultStream: 'downstream' };
    // timeout 0: data is dropped and the connection never closes (a blackhole).
    case 'network_timeout': return { type: 'timeout', attributes: { timeout: n('timeout_ms', 0) }, defaultStream: 'upstream' };
    case 'network_reset': return { type: 'reset_peer', attributes: { timeout: n('timeout_ms', 0) }, defaultStream: 'upstream' };
    case 'network_slow_close': return { type: 'slow_close', attributes: { delay: n('delay_ms', 2000) }, defaultStream: 'downstream' };
    default: throw new Error(`${spec.type} is not a toxic`);
  }
}

/** The proxies a system declares that may be faulted. */
export function declaredProxies(system: SystemFile): string[] {
  return Object.keys(system.proxies).filter((n) => !protectedComponents[n]);
}

const urlOf = (ctx: FaultContext) => ctx.env.toxiproxyUrl;


/**
 * The Toxiproxy proxy that carries a declared proxy: the run's own one, else one by
 * the declared name (the stack's routes), else any that listens on the declared address.
 */
async function toxiproxyNameOf(name: string, decl: ProxyDecl, ctx: FaultContext): Promise<string> {
  const proxies = await new ToxiproxyClient(urlOf(ctx)).proxies();
  const candidates = [ctx.runId ? runProxyName(ctx.runId, name) : undefined, name].filter((n): n is string => n !== undefined);
  const byName = candidates.find((n) => proxies[n] && listenPort(proxies[n].listen) === listenPort(decl.listen));
  if (byName) return byName;
  const byListen = Object.values(proxies).find((p) => listenPort(p.listen) === listenPort(decl.listen));
  if (byListen) return byListen.name;
  throw new FaultPreconditionError(`no proxy in Ordeal's Toxiproxy (${urlOf(ctx)}) listens on ${decl.listen} for declared proxy ${name} `
    + `(it has: ${Object.values(proxies).map((p) => `${p.name}@${p.listen}`).join(', ') || 'none'}); run proxies are created when the run starts`);
}

function listenPort(listen: string): number {
  return Number(listen.slice(listen.lastIndexOf(':') + 1));
}

/** Opens a TCP connection through the proxy and reports what happened within `ms`. */
function probeConnect(port: number, ms: number): Promise<'refused' | 'silent' | 'closed' | 'answered'> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => { sock.destroy(); resolve('silent'); }, ms);
    sock.once('data', () => { clearTimeout(timer); sock.destroy(); resolve('answered'); });
    sock.once('error', (err: NodeJS.ErrnoException) => { clearTimeout(timer); resolve(err.code === 'ECONNREFUSED' ? 'refused' : 'closed'); });
    sock.once('close', () => { clearTimeout(timer); resolve('closed'); });
  });
}

export function toxiproxyBackend(): FaultBackend {
  return {
    name: 'toxiproxy',
    types: Object.keys(paramRules) as FaultType[],

    check(spec, ctx) {
      const proxies = declaredProxies(ctx.system);
      const problems: string[] = [];
      if (protectedComponents[spec.target]) problems.push(`target ${spec.target} is ${protectedComponents[spec.target]}; it cannot be faulted`);
      else if (!proxies.includes(spec.target)) {
        problems.push(`unknown target "${spec.target}" for the toxiproxy backend; proxies declared by system ${ctx.system.name}: ${proxies.join(', ') || 'none'}`);
      }
      const rules = paramRules[spec.type];
      if (rules) problems.push(...paramProblems(spec, rules));
      return problems;
    },

    async probe(_spec, ctx) {
      try {
        await new ToxiproxyClient(urlOf(ctx)).proxies();
        return [];
      } catch (err) {
        return [`Ordeal's Toxiproxy at ${urlOf(ctx)} is not reachable: ${(err as Error).message}`];
      }
    },

    async plan(spec, faultId, ctx) {
      const decl = ctx.system.proxies[spec.target];
      if (!decl) throw new FaultPreconditionError(`system ${ctx.system.name} declares no proxy ${spec.target}`);
      const proxy = await toxiproxyNameOf(spec.target, decl, ctx);
      if (spec.type === 'network_partition') return { url: urlOf(ctx), proxy, toxics: '' };
      const stream = String(spec.params.stream ?? toxicOf(spec).defaultStream);
      const streams: Stream[] = stream === 'both' ? ['upstream', 'downstream'] : [stream as Stream];
      return { url: urlOf(ctx), proxy, toxics: streams.map((s) => `ordeal-${faultId}-${s}`).join(',') };
    },

    async inject(handle, spec) {
      const client = new ToxiproxyClient(String(handle.revert.url));
      const proxy = String(handle.revert.proxy);
      if (spec.type === 'network_partition') {
        // A disabled proxy closes its listener and every open connection: a clean partition.
        await client.setEnabled(proxy, false);
        return;
      }
      const { type, attributes } = toxicOf(spec);
      for (const name of String(handle.revert.toxics).split(',')) {
        const stream = name.endsWith('-upstream') ? 'upstream' : 'downstream';
        await client.addToxic(proxy, { name, type, stream, attributes, toxicity: spec.params.toxicity === undefined ? 1 : Number(spec.params.toxicity) });
      }
    },

    async revert(handle) {
      const client = new ToxiproxyClient(String(handle.revert.url));
      const proxy = String(handle.revert.proxy);
      let current;
      try {
        current = await client.proxy(proxy);
      } catch (err) {
        // A restarted toxiproxy re-declares its proxies without toxics: nothing of ours is left.
        if (err instanceof ToxiproxyError && err.status === 404) return { alreadyReverted: true, detail: `proxy ${proxy} no longer exists` };
        throw err;
      }
      if (handle.type === 'network_partition') {
        if (current.enabled) return { alreadyReverted: true, detail: `proxy ${proxy} already enabled` };
        await client.setEnabled(proxy, true);
        return { alreadyReverted: false, detail: `proxy ${proxy} enabled again` };
      }
      const ours = String(handle.revert.toxics).split(',').filter((n) => current.toxics.some((t) => t.name === n));
      for (const name of ours) await client.removeToxic(proxy, name);
      return ours.length
        ? { alreadyReverted: false, detail: `removed toxic(s) ${ours.join(', ')} from proxy ${proxy}` }
        : { alreadyReverted: true, detail: `proxy ${proxy} has none of this fault's toxics` };
    },

    async evidence(handle: FaultHandle): Promise<Observation[]> {
      const client = new ToxiproxyClient(String(handle.revert.url));
      const proxy = await client.proxy(String(handle.revert.proxy));
      const port = listenPort(proxy.listen);
      if (handle.type === 'network_partition') {
        const result = await probeConnect(port, 1000);
        return [
          { ok: !proxy.enabled, description: `proxy ${proxy.name} (${proxy.listen} → ${proxy.upstream}) is ${proxy.enabled ? 'enabled' : 'disabled'}` },
          { ok: result === 'refused', description: `TCP connect to ${proxy.listen}: ${result === 'refused' ? 'refused (unreachable through its proxy)' : result}` },
        ];
      }
      const names = String(handle.revert.toxics).split(',');
      const listed: Toxic[] = proxy.toxics.filter((t) => names.includes(t.name));
      const out: Observation[] = names.map((n) => {
        const t = listed.find((x) => x.name === n);
        return t
          ? { ok: true, description: `toxic ${t.name} listed on proxy ${proxy.name}: ${t.type} ${t.stream} ${JSON.stringify(t.attributes)} toxicity ${t.toxicity}` }
          : { ok: false, description: `toxic ${n} is not on proxy ${proxy.name}` };
      });
      return out;
    },
  };
}
