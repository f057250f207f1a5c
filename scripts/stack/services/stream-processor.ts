import { join } from 'node:path';
import { request } from 'undici';
import type { ServiceContext, ServiceSpec } from '../service.ts';

// The reference stream processor (systems/stream-processor). It reaches Kafka through
// Toxiproxy and reads seeded defects from ORDEAL_DEFECTS in its environment.
//
// `defects` names the reference system whose seeded defects `stack up --defects` hands
// this process (a ServiceSpec field the payment-API work adds); the object is declared
// unannotated so that this file compiles with and without that field.
const spec = {
  name: 'stream-processor',
  defects: 'stream-processor' as const,
  description: 'reference stream processor: payments → payments.settled, exactly once',
  ports: ['stream_processor'] as const,
  url: (c: ServiceContext['config']) => `http://127.0.0.1:${c.ports.stream_processor}`,
  after: ['kafka'] as const,
  metrics: (c: ServiceContext['config']) => `127.0.0.1:${c.ports.stream_processor}`,
  launch: (ctx: ServiceContext) => ({
    file: 'bash',
    args: [join(ctx.config.root, 'scripts', 'run-node'), join(ctx.config.root, 'systems', 'stream-processor', 'main.ts'),
      '--brokers', `127.0.0.1:${ctx.config.ports.kafka_proxy}`, '--port', String(ctx.config.ports.stream_processor)],
    cwd: ctx.config.root,
    env: { ORDEAL_TOOLS: ctx.config.tools },
  }),
  // Ready = topics exist, producers fenced, dedup state rebuilt, consumer in its group.
  async ready(ctx: ServiceContext): Promise<string> {
    const res = await request(`${spec.url(ctx.config)}/health`, { headersTimeout: 2000, bodyTimeout: 2000 });
    const body = (await res.body.json()) as { status?: string; mode?: string; partitions?: number[]; dedup_entries?: number; defects?: string[]; last_error?: string | null };
    if (res.statusCode !== 200) throw new Error(`/health answered ${res.statusCode}: ${body.status ?? '?'}${body.last_error ? ` (${body.last_error})` : ''}`);
    return `${body.mode}, ${body.partitions?.length ?? 0} partitions, ${body.dedup_entries ?? 0} settled ids${body.defects?.length ? `, defects: ${body.defects.join(", ")}` : ""}`;
  },
  stopSignal: 'SIGTERM' as const,
  stopGraceMs: 20000,
  readyTimeoutMs: 60000,
};

export const streamProcessor: ServiceSpec = spec;
