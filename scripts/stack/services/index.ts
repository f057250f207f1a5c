// The embedded stack's services, in start order (each after the services it needs).
// A new service is a ServiceSpec in its own file here, listed below.
import type { ServiceSpec } from '../service.ts';
import { kafka } from './kafka.ts';
import { ordealDb, postgres } from './postgres.ts';
import { paymentApi } from './payment-api.ts';
import { prometheus } from './prometheus.ts';
import { redis } from './redis.ts';
import { streamProcessor } from './stream-processor.ts';
import { stripeEmulator } from './stripe-emulator.ts';
import { temporal } from './temporal.ts';
import { toxiproxy } from './toxiproxy.ts';
import { watchdog } from './watchdog.ts';
import { loadWorker, worker } from './worker.ts';

export const stackServices: readonly ServiceSpec[] = [
  toxiproxy, postgres, ordealDb, redis, kafka, temporal, stripeEmulator, paymentApi, streamProcessor, prometheus, watchdog, worker, loadWorker,
];
