// `ordeal validate --live` / `ordeal run --dry-run`: checks a resolved scenario
// against the real world without touching it. Per declared service, proxy, the
// provider, every reconcile source and every probe: reachable or not; per fault:
// what it would do, or why it would be refused. Only reads: TCP connects, HTTP
// GETs, `SELECT 1`, /proc and Toxiproxy's proxy list.
import { connect } from 'node:net';
import pg from 'pg';
import { environment } from '../environment/index.ts';
import { backendOf, dockerServiceState, validateFaultTargets } from '../faults/index.ts';
import type { FaultSpec } from '../faults/types.ts';
import { processTree } from '../../process-table/index.ts';
import type { Scenario, ScenarioProblem } from '../scenario/schema.ts';
import { LOCAL_HOST, splitHostPort, type ServiceDecl, type SystemFile } from '../system/schema.ts';
import { locateService } from '../faults/process/index.ts';
import { ToxiproxyClient } from '../faults/toxiproxy/index.ts';

export type PreflightKind = 'service' | 'proxy' | 'provider' | 'source' | 'probe' | 'ordeal';

export interface PreflightItem {
  kind: PreflightKind;
  name: string;
  /** The scenario or system field this item comes from. */
  path: string;
  /** null: not checkable from here (a service on another fault host). */
  reachable: boolean | null;
  detail: string;
  /** The faults aimed at it: what each would do, or why it would be refused. */
  faults: { index: number; would: string; refused?: string }[];
}

export interface PreflightReport {
  system: string;
  items: PreflightItem[];
  /** Every unreachable thing and every refused fault, by path (the run would fail on them). */
  problems: ScenarioProblem[];
}

const TIMEOUT_MS = 2000;

/** TCP connect: 'accepts', or why not (refused: nothing listens). */
export function tcpCheck(host: string, port: number, ms = TIMEOUT_MS): Promise<{ ok: boolean; detail: string }> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    const timer = setTimeout(() => { sock.destroy(); resolve({ ok: false, detail: `no answer from ${host}:${port} within ${ms} ms` }); }, ms);
    sock.once('connect', () => { clearTimeout(timer); sock.destroy(); resolve({ ok: true, detail: `${host}:${port} accepts connections` }); });
    sock.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ ok: false, detail: err.code === 'ECONNREFUSED' ? `nothing listens on ${host}:${port} (connection refused)` : `${host}:${port}: ${err.code ?? err.message}` });
    });
  });
}

function urlHostPort(url: string): { host: string; port: number } | undefined {
  try {
    const u = new URL(url);
    const port = u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : u.protocol === 'postgres:' || u.protocol === 'postgresql:' ? 5432 : 80;
    return { host: u.hostname.replace(/^\[|\]$/g, ''), port };
  } catch {
    return undefined;
  }
}

/** An HTTP GET: reachable when anything answers; `expect2xx` makes only a 2xx count. */
async function httpCheck(url: string, expect2xx: boolean): Promise<{ ok: boolean; detail: string }> {
  const hp = urlHostPort(url);
  if (hp) {
    const tcp = await tcpCheck(hp.host, hp.port);
    if (!tcp.ok) return tcp;
  }
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    await res.body?.cancel();
    const ok = !expect2xx || (res.status >= 200 && res.status < 300);
    return { ok, detail: `GET ${url} → ${res.status}${ok ? '' : ' (healthy means 2xx)'}` };
  } catch (err) {
    return { ok: false, detail: `GET ${url}: ${(err as Error).message}` };
  }
}

async function pgCheck(url: string): Promise<{ ok: boolean; detail: string }> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: TIMEOUT_MS });
  const where = url.replace(/^postgres(ql)?:\/\/[^@]*@/, '');
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return { ok: true, detail: `${where}: SELECT 1 answered` };
  } catch (err) {
    return { ok: false, detail: `${where}: ${(err as Error).message}` };
  } finally {
    await client.end().catch(() => {});
  }
}

const ms = (n: number) => (n % 1000 === 0 ? `${n / 1000}s` : `${n}ms`);

/** What a fault would do, in a sentence (before anything is touched). */
export function describeFault(f: FaultSpec, system: SystemFile, scenario: Pick<Scenario, 'safety'>): string {
  const dur = Math.min(f.duration, scenario.safety.max_fault_duration);
  const when = `at +${ms(f.at)} for ${ms(dur)}`;
  const decl = system.services[f.target];
  const proxy = system.proxies[f.target];
  switch (backendOf(f, system)) {
    case 'process': {
      const restart = f.restart === false ? 'then leave it down (restart: false)'
        : `then restart it (${decl?.kind !== 'process' ? 'docker start' : decl.start ? `\`${decl.start}\`` : decl.systemd_unit ? `systemctl start ${decl.systemd_unit}` : "its host's supervisor"})${decl?.ready ? ` and wait until ${'http' in decl.ready ? `GET ${decl.ready.http} answers 2xx` : `${decl.ready.tcp} accepts`}` : ''}`;
      return f.type === 'process_pause'
        ? `SIGSTOP every process of ${f.target}'s tree ${when} (gray failure: sockets open, nothing answers), then SIGCONT`
        : `SIGKILL every process of ${f.target}'s tree ${when}, ${restart}`;
    }
    case 'toxiproxy': {
      const route = proxy ? ` (${proxy.listen} → ${proxy.upstream})` : '';
      if (f.type === 'network_partition') return `disable proxy ${f.target}${route} ${when}: its listener and every open connection close; enable it again after`;
      const params = Object.entries(f.params).map(([k, v]) => `${k}=${String(v)}`).join(', ');
      return `add a ${f.type.replace('network_', '')} toxic${params ? ` (${params})` : ''} on proxy ${f.target}${route} ${when}; remove it after`;
    }
    case 'provider':
      return `set a ${f.type.replace('provider_', '')} fault layer${Object.keys(f.params).length ? ` ${JSON.stringify(f.params)}` : ''} on the provider at ${system.provider?.admin_url ?? '(none declared)'} ${when}; remove it after (it also expires by itself)`;
    case 'docker': {
      const container = decl?.kind === 'docker' ? `container ${decl.container} (service ${f.target})` : `service ${f.target}`;
      return `${f.type === 'process_pause' ? 'docker pause' : 'docker kill'} ${container} ${when}, then ${f.type === 'process_pause' ? 'unpause' : f.restart === false ? 'leave it down' : 'start'} it`;
    }
    case 'host':
      return f.type === 'disk_full' ? `fill fault volume ${f.target} ${when}; delete the filler after`
        : `start a ${f.type === 'cpu_spike' ? 'CPU' : 'memory'} hog on this machine ${when}; end it after`;
  }
}

async function serviceItem(name: string, decl: ServiceDecl, host: string): Promise<Omit<PreflightItem, 'faults'>> {
  const path = `system.services.${name}`;
  const on = decl.host ?? LOCAL_HOST;
  if (on !== host) return { kind: 'service', name, path, reachable: null, detail: `on fault host ${on}: checked by its fault worker (ordeal worker --faults --host ${on}), not from here` };
  const parts: string[] = [];
  let ok = true;
  if (decl.kind === 'process') {
    const found = locateService(name, decl);
    if ('problem' in found) { ok = false; parts.push(`not running: ${found.problem}`); }
    else parts.push(`running, pid ${found.pid} (${processTree(found.pid).length} process${processTree(found.pid).length === 1 ? "" : "es"})`);
  } else {
    const r = await dockerServiceState(name, decl, environment().stateDir);
    ok = r.ok;
    parts.push(r.detail);
  }
  if (decl.ready) {
    const r = 'http' in decl.ready ? await httpCheck(decl.ready.http, true) : await (async () => {
      const hp = splitHostPort((decl.ready as { tcp: string }).tcp)!;
      return tcpCheck(hp.host, hp.port);
    })();
    ok &&= r.ok;
    parts.push(`ready: ${r.detail}`);
  }
  return { kind: 'service', name, path, reachable: ok, detail: parts.join('; ') };
}

async function proxyItem(name: string, listen: string, upstream: string, toxi: Record<string, { name: string; listen: string }> | undefined): Promise<Omit<PreflightItem, 'faults'>> {
  const path = `system.proxies.${name}`;
  const up = splitHostPort(upstream)!;
  const upstreamCheck = await tcpCheck(up.host, up.port);
  const port = splitHostPort(listen)!.port;
  const served = toxi && Object.values(toxi).find((p) => splitHostPort(p.listen)?.port === port);
  const via = !toxi ? "Ordeal's Toxiproxy is not reachable" : served ? `served by Toxiproxy proxy ${served.name}` : 'Toxiproxy creates it when the run starts';
  return { kind: 'proxy', name, path, reachable: upstreamCheck.ok && toxi !== undefined, detail: `${listen} → ${upstream}: ${via}; upstream: ${upstreamCheck.detail}` };
}

/** Every check, nothing touched. The scenario must be resolved (scenario.system set). */
export async function preflight(scenario: Scenario): Promise<PreflightReport> {
  const env = environment();
  const system = scenario.system ?? env.defaultSystem();
  const items: PreflightItem[] = [];
  const problems: ScenarioProblem[] = [];
  const add = (item: Omit<PreflightItem, 'faults'>) => {
    const full = { ...item, faults: [] };
    items.push(full);
    if (item.reachable === false) problems.push({ path: item.path, message: `${item.kind} ${item.name} is not reachable: ${item.detail}` });
    return full;
  };

  let toxi: Record<string, { name: string; listen: string }> | undefined;
  try {
    toxi = await new ToxiproxyClient(env.toxiproxyUrl).proxies();
    items.push({ kind: 'ordeal', name: 'toxiproxy', path: 'ORDEAL_TOXIPROXY_URL', reachable: true, detail: `${env.toxiproxyUrl}: ${Object.keys(toxi).length} proxies`, faults: [] });
  } catch (err) {
    const needed = Object.keys(system.proxies).length > 0;
    items.push({ kind: 'ordeal', name: 'toxiproxy', path: 'ORDEAL_TOXIPROXY_URL', reachable: false, detail: `${env.toxiproxyUrl}: ${(err as Error).message}`, faults: [] });
    if (needed) problems.push({ path: 'ORDEAL_TOXIPROXY_URL', message: `Ordeal's Toxiproxy at ${env.toxiproxyUrl} is not reachable, and system ${system.name} declares proxies` });
  }
  const db = await pgCheck(env.ordealDbUrl);
  items.push({ kind: 'ordeal', name: 'ordeal-db', path: 'ORDEAL_DB_URL', reachable: db.ok, detail: db.detail, faults: [] });
  if (!db.ok) problems.push({ path: 'ORDEAL_DB_URL', message: `Ordeal's database is not reachable: ${db.detail}` });

  const byTarget = new Map<string, PreflightItem>();
  for (const [name, decl] of Object.entries(system.services)) byTarget.set(`service:${name}`, add(await serviceItem(name, decl, env.host)));
  for (const [name, p] of Object.entries(system.proxies)) byTarget.set(`proxy:${name}`, add(await proxyItem(name, p.listen, p.upstream, toxi)));
  if (system.provider) {
    const r = await httpCheck(`${system.provider.admin_url.replace(/\/$/, '')}/`, false);
    byTarget.set('provider', add({ kind: 'provider', name: 'provider', path: 'system.provider.admin_url', reachable: r.ok, detail: r.detail }));
  }

  // Faults: what each would do, or why it would be refused (static checks and the backends' read-only probes).
  const issues = await validateFaultTargets(scenario.faults, { live: true, system });
  for (const [i, f] of scenario.faults.entries()) {
    const backend = backendOf(f, system);
    const key = backend === 'toxiproxy' ? `proxy:${f.target}` : backend === 'provider' ? 'provider' : `service:${f.target}`;
    const refused = issues.filter((x) => x.path[1] === i).map((x) => x.message).join('; ');
    const entry = { index: i, would: describeFault(f, system, scenario), ...(refused ? { refused } : {}) };
    let item = byTarget.get(key);
    if (!item) {
      item = { kind: backend === 'toxiproxy' ? 'proxy' : 'service', name: f.target, path: `faults.${i}.target`, reachable: null, detail: `not declared by system ${system.name}`, faults: [] };
      items.push(item);
      byTarget.set(key, item);
    }
    item.faults.push(entry);
    if (refused) problems.push({ path: `faults.${i}`, message: `would be refused: ${refused}` });
  }

  for (const [i, r] of scenario.reconcile.entries()) {
    const path = `reconcile.${i}`;
    let check: { ok: boolean; detail: string };
    if (r.source === 'postgres') check = r.url ? await pgCheck(r.url) : { ok: false, detail: 'no url (and no defaults.reconcile.postgres.url)' };
    else if (r.source === 'stripe') check = r.url ? await httpCheck(r.url, false) : { ok: false, detail: 'no url (and no defaults.reconcile.stripe.url)' };
    else {
      const brokers = r.brokers ?? [];
      const results = await Promise.all(brokers.map((b) => { const hp = splitHostPort(b); return hp ? tcpCheck(hp.host, hp.port) : Promise.resolve({ ok: false, detail: `${b} is not host:port` }); }));
      check = brokers.length ? { ok: results.every((x) => x.ok), detail: results.map((x) => x.detail).join('; ') } : { ok: false, detail: 'no brokers (and no defaults.reconcile.kafka.brokers)' };
    }
    add({ kind: 'source', name: `${r.name} (${r.source})`, path, reachable: check.ok, detail: check.detail });
  }

  const probes: [string, string, boolean][] = [
    ['load.target', scenario.load.target, false],
    ['recovery.probe', scenario.recovery.probe, true],
    ...(scenario.steady_state.probe ? [['steady_state.probe', scenario.steady_state.probe, true] as [string, string, boolean]] : []),
  ];
  for (const [path, url, health] of probes) {
    // The load target only needs a listener (its API may answer 404 on /); health probes must be up.
    const r = health ? await httpCheck(url, false) : await (async () => { const hp = urlHostPort(url); return hp ? tcpCheck(hp.host, hp.port) : { ok: false, detail: `${url} is not a URL` }; })();
    add({ kind: 'probe', name: path, path, reachable: r.ok, detail: r.detail });
  }
  if (scenario.recovery.business) {
    const hp = urlHostPort(scenario.recovery.business.url);
    const r = hp ? await tcpCheck(hp.host, hp.port) : { ok: false, detail: 'not a URL' };
    add({ kind: 'probe', name: 'recovery.business.url', path: 'recovery.business.url', reachable: r.ok, detail: r.detail });
  }
  return { system: system.name, items, problems };
}

/** The report as aligned text lines for the CLI. */
export function formatPreflight(r: PreflightReport): string {
  const lines = [`live check against system ${r.system} (nothing was touched):`];
  for (const it of r.items) {
    const state = it.reachable === null ? 'not checked' : it.reachable ? 'reachable' : 'UNREACHABLE';
    lines.push(`  ${it.kind.padEnd(8)} ${it.name.padEnd(22)} ${state.padEnd(12)} ${it.detail}`);
    for (const f of it.faults) {
      lines.push(`           fault ${f.index}: ${f.refused ? `REFUSED: ${f.refused}` : 'would'} ${f.refused ? `(it would ${f.would})` : f.would}`);
    }
  }
  return lines.join('\n');
}
