// /health and /metrics of the stream processor.
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import type { Metrics } from './metrics.ts';
import type { StreamProcessor } from './processor.ts';

export async function startHttp(processor: StreamProcessor, metrics: Metrics, port: number): Promise<{ app: FastifyInstance; port: number }> {
  const app = Fastify({ logger: false });
  // 200 only while a session consumes: topics exist, producers fenced, dedup state
  // rebuilt and the consumer in its group. Anything else is 503 with the reason.
  const health = async (_req: unknown, reply: FastifyReply) => {
    const s = processor.status();
    const ok = s.state === 'running';
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : s.state, ...s });
  };
  app.get('/health', health);
  // Same answer under the payment API's name for it, so probes can treat both systems alike.
  app.get('/ready', health);
  app.get('/metrics', async (_req, reply) => {
    return reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  await app.listen({ host: '127.0.0.1', port });
  const address = app.server.address();
  return { app, port: typeof address === 'object' && address ? address.port : port };
}
