// The embedded stack's system under test, described as a system file (what Ordeal
// may fault: its services, never Ordeal's own; its Toxiproxy routes; the Stripe
// emulator; reconcile and drain defaults). `stack up` writes it under the stack's
// home; scenarios without `system:` run against it.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import { protectedComponents, type ServiceDecl, type SystemFile } from '../../activities/system/index.ts';
import type { StackConfig } from './config.ts';
import { stackServices } from './services/index.ts';

export const pidFileOf = (config: StackConfig, name: string) => join(config.home, 'run', `${name}.pid`);
/** Where `ordeal stack up` writes the stack's system file. */
export const systemFileOf = (config: StackConfig) => join(config.home, 'ordeal.system.yaml');

/** The stack's system under test as a system file: its services (never Ordeal's own), proxies, provider, defaults. */
export function embeddedSystem(config: StackConfig): SystemFile {
  const services: Record<string, ServiceDecl> = {};
  const proxies: SystemFile['proxies'] = {};
  for (const spec of stackServices) {
    if (protectedComponents[spec.name]) continue;
    const port = config.ports[spec.ports[0]!];
    services[spec.name] = { kind: 'process', pid_file: pidFileOf(config, spec.name), url: spec.url(config), ready: { tcp: `127.0.0.1:${port}` } };
    if (spec.proxy) {
      proxies[spec.proxy.name] = { listen: `127.0.0.1:${config.ports[spec.proxy.listen]}`, upstream: `127.0.0.1:${config.ports[spec.proxy.upstream]}` };
    }
  }
  const url = (name: string) => stackServices.find((s) => s.name === name)!.url(config);
  return {
    name: 'embedded-stack',
    description: `Ordeal's embedded stack at ${config.home}`,
    services,
    proxies,
    provider: { admin_url: url('stripe-emulator') },
    defaults: {
      reconcile: { postgres: { url: url('postgres') }, stripe: { url: url('stripe-emulator') }, kafka: { brokers: [url('kafka')] } },
      drain: { brokers: [url('kafka')] },
      // The reference systems leak-checked by a soak (the datastores' caches grow by design).
      soak: { services: ['payment-api', 'stream-processor'] },
      placeholders: {},
    },
  };
}

/** Written by `ordeal stack up`, so a person (or another tool) sees what Ordeal may touch. */
export function writeSystemFile(config: StackConfig): string {
  const file = systemFileOf(config);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `# Written by \`ordeal stack up\`: the embedded stack's system under test (what Ordeal may fault).\n`
    + `# Scenarios without \`system:\` run against it. Regenerated on every \`stack up\`.\n${stringify(embeddedSystem(config))}`);
  return file;
}

