// The one declaration a service of the embedded stack needs. Adding a service to
// the stack is writing one of these and listing it in services/index.ts.
import type { DefectName, DefectSystem } from '../../systems/defects.ts';
import type { PortName, StackConfig } from './config.ts';
import type { LaunchSpec } from './process.ts';

export interface ServiceContext {
  config: StackConfig;
  /** <home>/data/<service>: the service's own state, kept across restarts. */
  dataDir: string;
  logFile: string;
  /** Path of a bootstrapped binary in <tools>/bin. */
  tool(name: string): string;
  /** Every service of the stack, for services that configure others (toxiproxy, prometheus). */
  services: readonly ServiceSpec[];
  /** Seeded defects requested for this `up` (every system's; a service picks its own via `defects`). */
  defects?: readonly DefectName[];
}

export interface ProxyRoute {
  /** Toxiproxy proxy name; faults address the proxy by this name. */
  name: string;
  listen: PortName;
  upstream: PortName;
}

export interface ServiceSpec {
  name: string;
  description: string;
  /** Ports the process itself binds, the main one first. */
  ports: readonly PortName[];
  /** When set, clients reach the service through a Toxiproxy proxy on `listen`. */
  proxy?: ProxyRoute;
  /** The address clients use (the proxy's, when there is one). */
  url(config: StackConfig): string;
  /** Services whose readiness this one's readiness check depends on. */
  after?: readonly string[];
  /** host:port of the Prometheus /metrics endpoint(s). */
  metrics?(config: StackConfig): string | string[];
  /** One-time or every-start preparation of the data dir (initdb, config files). */
  prepare?(ctx: ServiceContext): Promise<void>;
  launch(ctx: ServiceContext): LaunchSpec;
  /** Checks readiness with a real client; throws while not ready. May return a detail line. */
  ready(ctx: ServiceContext): Promise<string | void>;
  /**
   * The reference system whose seeded defects this process carries. The supervisor
   * passes that system's share of `stack up --defects` in ORDEAL_DEFECTS, records it,
   * and restarts the service when a later `up` asks for a different set.
   */
  defects?: DefectSystem;
  stopSignal?: NodeJS.Signals;
  stopGraceMs?: number;
  readyTimeoutMs?: number;
}
