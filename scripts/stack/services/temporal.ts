import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { request } from 'undici';
import type { ServiceSpec } from '../service.ts';

/** Custom search attributes that let ops filter experiment runs in the Web UI. */
export const SEARCH_ATTRIBUTES = ['OrdealScenario', 'OrdealVerdict', 'OrdealRunId'] as const;

export const temporal: ServiceSpec = {
  name: 'temporal',
  description: 'Temporal dev server (SQLite) with Web UI',
  ports: ['temporal', 'temporal_ui', 'temporal_http', 'temporal_metrics'],
  url: (c) => `127.0.0.1:${c.ports.temporal}`,
  metrics: (c) => `127.0.0.1:${c.ports.temporal_metrics}`,
  async prepare(ctx) {
    mkdirSync(ctx.dataDir, { recursive: true });
  },
  launch: (ctx) => {
    const p = ctx.config.ports;
    return {
      file: ctx.tool('temporal'),
      args: ['server', 'start-dev', '--ip', '127.0.0.1', '--ui-ip', '127.0.0.1', '--port', String(p.temporal),
        '--ui-port', String(p.temporal_ui), '--http-port', String(p.temporal_http), '--metrics-port', String(p.temporal_metrics),
        '--db-filename', join(ctx.dataDir, 'temporal.db'),
        '--sqlite-pragma', 'journal_mode=wal', '--sqlite-pragma', 'synchronous=normal',
        ...SEARCH_ATTRIBUTES.flatMap((a) => ['--search-attribute', `${a}=Keyword`]),
        '--log-level', 'warn', '--ui-disable-news-fetch'],
    };
  },
  async ready(ctx) {
    const connection = await Connection.connect({ address: this.url(ctx.config), connectTimeout: 2000 });
    try {
      await connection.workflowService.describeNamespace({ namespace: 'default' });
      const attrs = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
      const missing = SEARCH_ATTRIBUTES.filter((a) => !(a in (attrs.customAttributes ?? {})));
      if (missing.length) throw new Error(`search attributes not registered yet: ${missing.join(', ')}`);
    } finally {
      await connection.close();
    }
    const ui = await request(`http://127.0.0.1:${ctx.config.ports.temporal_ui}/`, { headersTimeout: 2000, bodyTimeout: 2000 });
    await ui.body.dump();
    if (ui.statusCode >= 400) throw new Error(`Web UI answered ${ui.statusCode}`);
    return `UI http://127.0.0.1:${ctx.config.ports.temporal_ui}`;
  },
  stopGraceMs: 15000,
  readyTimeoutMs: 60000,
};
