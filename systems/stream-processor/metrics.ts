// Prometheus metrics of the stream processor, on its own registry.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'stream_processor_' });
  const m = {
    registry,
    consumed: new Counter({ name: 'stream_processor_messages_consumed_total', help: 'records read from the input topic', registers: [registry] }),
    processed: new Counter({ name: 'stream_processor_messages_processed_total', help: 'settlements produced (committed, in exactly-once mode)', registers: [registry] }),
    duplicates: new Counter({ name: 'stream_processor_duplicates_skipped_total', help: 'input records whose message_id was already settled', registers: [registry] }),
    invalid: new Counter({ name: 'stream_processor_invalid_messages_total', help: 'input records that are not a valid PaymentEvent (sent to the dead-letter topic)', registers: [registry] }),
    commits: new Counter({ name: 'stream_processor_transactions_committed_total', help: 'transactions committed (output, dedup state and offsets together)', registers: [registry] }),
    aborts: new Counter({ name: 'stream_processor_transactions_aborted_total', help: 'transactions aborted after an error', registers: [registry] }),
    offsetCommits: new Counter({ name: 'stream_processor_offset_commits_total', help: 'consumer offset commits (inside transactions, or plain ones in the defect modes)', registers: [registry] }),
    restarts: new Counter({ name: 'stream_processor_session_restarts_total', help: 'consumer/producer sessions restarted after an error', labelNames: ['reason'], registers: [registry] }),
    lag: new Gauge({ name: 'stream_processor_consumer_lag', help: 'input high watermark minus the committed offset of the group', labelNames: ['topic', 'partition'], registers: [registry] }),
    lagTotal: new Gauge({ name: 'stream_processor_consumer_lag_total', help: 'sum of the consumer lag over the input partitions', registers: [registry] }),
    dedupEntries: new Gauge({ name: 'stream_processor_dedup_state_entries', help: 'message_ids known as settled (in-memory view of the state topic)', registers: [registry] }),
    writtenUncommitted: new Gauge({ name: 'stream_processor_transactions_written_uncommitted',
      help: 'transactions whose records are on the broker but not yet committed (a crash now leaves them for the next session to abort)', registers: [registry] }),
    up: new Gauge({ name: 'stream_processor_running', help: '1 while a session consumes, 0 while (re)starting', registers: [registry] }),
    defect: new Gauge({ name: 'stream_processor_defect_enabled', help: 'seeded defects switched on (1)', labelNames: ['defect'], registers: [registry] }),
    txnSeconds: new Histogram({ name: 'stream_processor_transaction_duration_seconds', help: 'begin to commit of one batch transaction',
      buckets: [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [registry] }),
    batchSize: new Histogram({ name: 'stream_processor_batch_size', help: 'records per processed batch',
      buckets: [1, 5, 10, 50, 100, 500, 1000, 5000], registers: [registry] }),
  };
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;
