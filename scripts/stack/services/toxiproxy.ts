import { ToxiproxyClient } from '../../../activities/faults/toxiproxy/client.ts';
import type { ServiceSpec } from '../service.ts';

export const toxiproxy: ServiceSpec = {
  name: 'toxiproxy',
  description: 'network fault proxy in front of PostgreSQL, Redis and Kafka',
  ports: ['toxiproxy'],
  url: (c) => `http://127.0.0.1:${c.ports.toxiproxy}`,
  metrics: (c) => `127.0.0.1:${c.ports.toxiproxy}`,
  launch: (ctx) => ({
    file: ctx.tool('toxiproxy-server'),
    args: ['-host', '127.0.0.1', '-port', String(ctx.config.ports.toxiproxy), '-proxy-metrics', '-runtime-metrics'],
  }),
  async ready(ctx) {
    const client = new ToxiproxyClient(this.url(ctx.config));
    const version = await client.version();
    // Declaring the proxies here (idempotently) means a restarted toxiproxy gets them back.
    const existing = await client.proxies();
    const wanted = ctx.services.flatMap((s) => (s.proxy ? [s.proxy] : [])).map((p) => ({
      name: p.name,
      listen: `127.0.0.1:${ctx.config.ports[p.listen]}`,
      upstream: `127.0.0.1:${ctx.config.ports[p.upstream]}`,
    }));
    const missing = wanted.filter((w) => existing[w.name]?.listen !== w.listen || existing[w.name]?.upstream !== w.upstream);
    if (missing.length > 0) await client.populate(missing);
    return `${version}, proxies: ${wanted.map((w) => w.name).join(', ')}`;
  },
};
