// Prometheus metrics on the emulator's own registry (several emulators may share a
// test process, so nothing goes to prom-client's global registry).
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export class EmulatorMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'method' | 'route' | 'status'>;
  readonly duration: Histogram<'method' | 'route'>;
  readonly idempotency: Counter<'outcome'>;
  readonly injected: Counter<'kind'>;
  readonly objects: Gauge<'object'>;
  readonly journalBytes: Gauge;
  readonly faultSetting: Gauge<'setting'>;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'stripe_emulator_' });
    this.requests = new Counter({ name: 'stripe_emulator_requests_total', help: 'Stripe API requests answered (or dropped: status "lost")', labelNames: ['method', 'route', 'status'], registers });
    this.duration = new Histogram({
      name: 'stripe_emulator_request_duration_seconds', help: 'Stripe API request duration, injected latency included',
      labelNames: ['method', 'route'], registers, buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    });
    this.idempotency = new Counter({ name: 'stripe_emulator_idempotency_total', help: 'Idempotent requests by outcome (stored, replayed, mismatch, conflict)', labelNames: ['outcome'], registers });
    this.injected = new Counter({ name: 'stripe_emulator_faults_injected_total', help: 'Injected faults by kind (rate_limited, server_error, response_lost, delayed)', labelNames: ['kind'], registers });
    this.objects = new Gauge({ name: 'stripe_emulator_objects', help: 'Stored objects by type', labelNames: ['object'], registers });
    this.journalBytes = new Gauge({ name: 'stripe_emulator_journal_bytes', help: 'Size of the write-ahead journal', registers });
    this.faultSetting = new Gauge({ name: 'stripe_emulator_fault_setting', help: 'Effective fault settings (rates 0..1, latency in ms)', labelNames: ['setting'], registers });
  }
}
