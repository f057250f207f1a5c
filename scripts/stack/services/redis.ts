import { Redis } from 'ioredis';
import type { ServiceSpec } from '../service.ts';

export const redis: ServiceSpec = {
  name: 'redis',
  description: 'Redis (idempotency fast path)',
  ports: ['redis'],
  proxy: { name: 'redis', listen: 'redis_proxy', upstream: 'redis' },
  url: (c) => `redis://127.0.0.1:${c.ports.redis_proxy}`,
  // No persistence: a Redis restart loses every key, which is the failure the
  // reference system must survive (Redis is only a fast path).
  launch: (ctx) => ({
    file: 'redis-server',
    args: ['--bind', '127.0.0.1', '--port', String(ctx.config.ports.redis), '--dir', ctx.dataDir,
      '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--protected-mode', 'yes'],
  }),
  async ready(ctx) {
    const client = new Redis({ host: '127.0.0.1', port: ctx.config.ports.redis, lazyConnect: true,
      connectTimeout: 2000, maxRetriesPerRequest: 0, retryStrategy: () => null });
    // A refused connection rejects connect() below; without a listener ioredis also prints it.
    client.on('error', () => {});
    try {
      await client.connect();
      const pong = await client.ping();
      if (pong !== 'PONG') throw new Error(`PING answered ${pong}`);
    } finally {
      client.disconnect();
    }
  },
  stopGraceMs: 5000,
};
