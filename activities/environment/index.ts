// What the core needs from the world it runs in, built once by whoever hosts the
// activities (a worker, the watchdog, the CLI, a test) and handed over with
// setEnvironment(). The core never looks for Ordeal's infrastructure or the
// system under test by itself: the embedded stack is one implementation
// (stackEnvironment() in the stack supervisor), a user's Temporal cluster + database another.
import type { ServiceDecl, SystemFile } from '../system/schema.ts';

export interface TemporalSettings {
  /** host:port of the frontend (a dev server, a cluster, or <ns>.<acct>.tmprl.cloud:7233). */
  address: string;
  namespace: string;
  /** mTLS (or server-verified TLS when only serverRootCaPath / serverName is set). */
  tls?: { clientCertPath?: string; clientKeyPath?: string; serverRootCaPath?: string; serverName?: string };
  /** Temporal Cloud API key (implies TLS). Never logged. */
  apiKey?: string;
}

/** A restart the host can do better than the declaration's `start` (the embedded stack's supervisor). */
export type RestartHook = (service: string, decl: ServiceDecl) => Promise<{ pid: number; detail: string } | undefined>;

export interface OrdealEnvironment {
  /** Where the settings came from, for messages ("embedded stack at /x/.ordeal", "environment"). */
  description: string;
  temporal: TemporalSettings;
  /** Ordeal's own database (leases, ledger, outcomes). */
  ordealDbUrl: string;
  /** Where reports are written. */
  reportsDir: string;
  /** The Temporal Web UI's base URL, for links in reports and notifications. */
  temporalUiUrl?: string;
  /** Ordeal's Toxiproxy admin API (network faults, run proxies). */
  toxiproxyUrl: string;
  /** Local state of fault backends (fault volumes, docker socket proxy), per machine. */
  stateDir: string;
  /** This process's fault worker host name ('local' unless `--host`). */
  host: string;
  /** The system a scenario without `system:` runs against. Throws when there is none. */
  defaultSystem(): SystemFile;
  /** Extra placeholders the host defines (the embedded stack: ports.<name>). */
  placeholders(): Record<string, string>;
  /** Optional faster/safer restart for services the host itself supervises; undefined = use the declaration. */
  restart?: RestartHook;
  /** True for the services `restart` brings back (they need no `start` in their declaration). */
  ownsService?(service: string, decl: ServiceDecl): boolean;
}

let current: OrdealEnvironment | undefined;

export function setEnvironment(env: OrdealEnvironment): void {
  current = env;
}

export class EnvironmentMissingError extends Error {
  override name = 'EnvironmentMissingError';
}

/** The environment set by this process's host; a clear error when nobody set one. */
export function environment(): OrdealEnvironment {
  if (!current) {
    throw new EnvironmentMissingError('no Ordeal environment in this process: the worker, watchdog, CLI or test that hosts '
      + 'the activities must call setEnvironment() once (the embedded stack: setEnvironment(stackEnvironment()) in the stack supervisor)');
  }
  return current;
}

export function hasEnvironment(): boolean {
  return current !== undefined;
}
