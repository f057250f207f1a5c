import { join } from 'node:path';
import { request } from 'undici';
import type { PortName } from '../config.ts';
import type { ServiceSpec } from '../service.ts';

/**
 * The fault watchdog: reverts faults whose lease expired when no worker did (the
 * second safety layer of crash safety). Its leases live in ordeal-db.
 */
export const watchdog: ServiceSpec = {
  name: 'watchdog',
  description: 'reverts faults whose lease expired (no worker came back)',
  ports: ['watchdog'],
  after: ['ordeal-db'],
  url: (c) => `http://127.0.0.1:${c.ports.watchdog}`,
  metrics: (c) => `127.0.0.1:${c.ports.watchdog}`,
  launch: (ctx) => ({
    file: process.execPath,
    args: ['--disable-warning=TimeoutNegativeWarning', '--import', join(ctx.config.root, 'scripts', 'stack', 'use-environment.ts'),
      join(ctx.config.root, 'activities', 'faults', 'watchdog-main.ts'), '--port', String(ctx.config.ports.watchdog)],
    // Pin the stack explicitly: the watchdog restarts services and must address this
    // stack, whatever the environment of whoever started it.
    env: {
      ORDEAL_HOME: ctx.config.home,
      ORDEAL_TOOLS: ctx.config.tools,
      ...Object.fromEntries((Object.keys(ctx.config.ports) as PortName[]).map((p) => [`ORDEAL_PORT_${p.toUpperCase()}`, String(ctx.config.ports[p])])),
    },
    cwd: ctx.config.root,
  }),
  async ready(ctx) {
    const res = await request(`${this.url(ctx.config)}/health`, { headersTimeout: 2000, bodyTimeout: 2000 });
    const body = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`/health answered ${res.statusCode}: ${body.trim()}`);
    const health = JSON.parse(body) as { lastSweepAt: string };
    return `last sweep ${health.lastSweepAt}`;
  },
  stopGraceMs: 5000,
};
