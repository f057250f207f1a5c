// The reference stream processor: `payments` → `payments.settled`, exactly once
// (or with a seeded defect). Run it with main.ts; embed it with startStreamProcessor.
import type { Logger } from 'pino';
import { deliveryMode, parseDefects, STREAM_DEFECTS, type DeliveryMode, type StreamDefect } from './defects.ts';
import { startHttp } from './http.ts';
import { createMetrics } from './metrics.ts';
import { StreamProcessor, type ProcessorOptions, type ProcessorStatus } from './processor.ts';

export { STREAM_DEFECTS, parseDefects, deliveryMode, type DeliveryMode, type StreamDefect };
export { feeCents, settle, parsePaymentEvent } from './settlement.ts';
export { readTopicToEnd } from './topic-reader.ts';
export type { ProcessorOptions, ProcessorStatus };

export interface RunningProcessor {
  port: number;
  status(): ProcessorStatus;
  stop(): Promise<void>;
}

export async function startStreamProcessor(opts: ProcessorOptions, log: Logger, httpPort: number): Promise<RunningProcessor> {
  const metrics = createMetrics();
  const processor = new StreamProcessor(opts, log, metrics);
  const http = await startHttp(processor, metrics, httpPort);
  processor.start();
  return {
    port: http.port,
    status: () => processor.status(),
    stop: async () => {
      await processor.stop();
      await http.app.close();
    },
  };
}
