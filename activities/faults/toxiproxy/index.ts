// The `toxiproxy` backend: network faults between clients and a stack service,
// applied on the service's Toxiproxy proxy. Toxics are named after the fault, so a
// revert removes exactly this fault's toxics and nobody else's.
import { connect } from 'node:net';
import { stackServices } from '../../../scripts/stack/services/index.ts';
import type { ServiceSpec } from '../../../scripts/stack/service.ts';
import { FaultPreconditionError, paramProblems, type FaultBackend, type FaultContext, type Observation } from '../backend.ts';
import { findRunProxy } from '../proxies/index.ts';
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

export function stackProxies(services: readonly ServiceSpec[]): string[] {
  return services.flatMap((s) => (s.proxy ? [s.proxy.name] : []));
}

const urlOf = (ctx: FaultContext) => `http://127.0.0.1:${ctx.config.ports.toxiproxy}`;

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

/** The Toxiproxy proxy a target names: a stack proxy by name, a declared one by its run's proxy. */
async function proxyNameOf(target: string, ctx: FaultContext): Promise<string> {
  const decl = ctx.system?.proxies[target];
  if (!decl) return target;
  const found = findRunProxy(await new ToxiproxyClient(urlOf(ctx)).proxies(), ctx.runId ?? '', target, decl);
  if (!found) {
    throw new FaultPreconditionError(`proxy ${target} (${decl.listen} → ${decl.upstream}) does not exist in Toxiproxy at ${urlOf(ctx)} for run ${ctx.runId ?? '?'}; ` +
      'the run creates its declared proxies when it starts (createRunProxies)');
  }
  return found.name;
}

export function toxiproxyBackend(services: () => readonly ServiceSpec[] = () => stackServices): FaultBackend {
  return {
    name: 'toxiproxy',
    types: Object.keys(paramRules) as FaultType[],

    check(spec, ctx) {
      // With a system file, only its declared proxies may be faulted.
      const proxies = ctx.system ? Object.keys(ctx.system.proxies) : stackProxies(services());
      const problems: string[] = [];
      if (!proxies.includes(spec.target)) {
        problems.push(`unknown target "${spec.target}" for the toxiproxy backend; ${ctx.system ? `the proxies of system ${ctx.system.name}` : "the stack's proxies"} are: ${proxies.join(', ') || 'none'}`);
      }
      const rules = paramRules[spec.type];
      if (rules) problems.push(...paramProblems(spec, rules));
      return problems;
    },

    async probe(spec, ctx) {
      try {
        const proxies = await new ToxiproxyClient(urlOf(ctx)).proxies();
        // A declared proxy exists only while its run does: check that Toxiproxy can hold it.
        if (ctx.system?.proxies[spec.target]) return [];
        return proxies[spec.target] ? [] : [`toxiproxy at ${urlOf(ctx)} has no proxy "${spec.target}" (it has: ${Object.keys(proxies).join(', ') || 'none'})`];
      } catch (err) {
        return [`toxiproxy at ${urlOf(ctx)} is not reachable: ${(err as Error).message}`];
      }
    },

    async plan(spec, faultId, ctx) {
      const proxy = await proxyNameOf(spec.target, ctx);
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
