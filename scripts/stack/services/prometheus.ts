import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { stringify } from 'yaml';
import type { ServiceSpec } from '../service.ts';

export const prometheus: ServiceSpec = {
  name: 'prometheus',
  description: 'Prometheus, scraping every service that declares metrics',
  ports: ['prometheus'],
  url: (c) => `http://127.0.0.1:${c.ports.prometheus}`,
  metrics: (c) => `127.0.0.1:${c.ports.prometheus}`,
  // The scrape config is written from the service declarations at every start.
  async prepare(ctx) {
    mkdirSync(join(ctx.dataDir, 'tsdb'), { recursive: true });
    const scrape_configs = ctx.services
      .filter((s) => s.metrics)
      .map((s) => ({ job_name: s.name, static_configs: [{ targets: [s.metrics!(ctx.config)].flat() }] }));
    writeFileSync(join(ctx.dataDir, 'prometheus.yml'), stringify({ global: { scrape_interval: '5s' }, scrape_configs }));
  },
  launch: (ctx) => ({
    file: 'prometheus',
    args: [`--config.file=${join(ctx.dataDir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(ctx.dataDir, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${ctx.config.ports.prometheus}`, '--web.enable-lifecycle',
      '--storage.tsdb.retention.time=7d', '--log.level=warn'],
  }),
  async ready(ctx) {
    const res = await request(`${this.url(ctx.config)}/-/ready`, { headersTimeout: 2000, bodyTimeout: 2000 });
    const body = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`/-/ready answered ${res.statusCode}: ${body.trim()}`);
  },
};
