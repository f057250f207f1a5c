// Temporal connection options from the environment's settings, for the worker's
// NativeConnection and the client's Connection alike (both take address/tls/apiKey).
import { readFileSync } from 'node:fs';
import type { TemporalSettings } from './index.ts';

export interface TemporalConnectionOptions {
  address: string;
  tls?: boolean | { clientCertPair?: { crt: Buffer; key: Buffer }; serverRootCACertificate?: Buffer; serverNameOverride?: string };
  apiKey?: string;
}

function read(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`cannot read the Temporal ${what} at ${path}: ${(err as Error).message}`, { cause: err });
  }
}

export function temporalConnectionOptions(t: TemporalSettings): TemporalConnectionOptions {
  const out: TemporalConnectionOptions = { address: t.address };
  if (t.tls) {
    const tls: Exclude<TemporalConnectionOptions['tls'], boolean | undefined> = {};
    if (t.tls.clientCertPath && t.tls.clientKeyPath) {
      tls.clientCertPair = { crt: read(t.tls.clientCertPath, 'client certificate'), key: read(t.tls.clientKeyPath, 'client key') };
    }
    if (t.tls.serverRootCaPath) tls.serverRootCACertificate = read(t.tls.serverRootCaPath, 'server CA');
    if (t.tls.serverName) tls.serverNameOverride = t.tls.serverName;
    out.tls = Object.keys(tls).length ? tls : true;
  }
  if (t.apiKey) {
    out.apiKey = t.apiKey;
    out.tls ??= true; // Temporal Cloud's API keys go over TLS only.
  }
  return out;
}
