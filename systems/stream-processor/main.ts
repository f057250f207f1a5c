// Entry point: `node systems/stream-processor/main.ts [options]`. Defaults come from the
// stack config (Kafka through its Toxiproxy port, the reserved stream_processor port);
// seeded defects from ORDEAL_DEFECTS.
import { Command, InvalidArgumentError } from 'commander';
import { pino } from 'pino';
import { loadStackConfig } from '../../scripts/stack/config.ts';
import { PAYMENTS_TOPIC, SETTLED_TOPIC } from '../contracts.ts';
import { deliveryMode, parseDefects, startStreamProcessor } from './index.ts';

const int = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative integer, got ${v}`);
  return n;
};

const stack = loadStackConfig();
const program = new Command('stream-processor')
  .description('settles payments from Kafka exactly once')
  .option('--brokers <list>', 'Kafka bootstrap brokers, comma-separated', `127.0.0.1:${stack.ports.kafka_proxy}`)
  .option('--port <n>', 'HTTP port of /health and /metrics (0: any free port)', int('port'), stack.ports.stream_processor)
  .option('--input-topic <t>', 'topic of PaymentEvents', PAYMENTS_TOPIC)
  .option('--output-topic <t>', 'topic of SettlementEvents', SETTLED_TOPIC)
  .option('--state-topic <t>', 'compacted dedup-state topic (default <output>.dedup-state)')
  .option('--dead-letter-topic <t>', 'topic for records that are not PaymentEvents (default <input>.dead-letter)')
  .option('--group <id>', 'consumer group', 'ordeal-stream-processor')
  .option('--transactional-id-prefix <p>', 'transactional.id prefix (one id per input partition)', 'ordeal-stream-processor')
  .option('--transaction-timeout-ms <n>', 'broker-side transaction timeout', int('transaction timeout'), 10000)
  .option('--fetch-min-bytes <n>', 'bytes a fetch waits for (more records per transaction, for more latency)', int('fetch min bytes'), 1)
  .option('--fetch-max-wait-ms <n>', 'longest wait for --fetch-min-bytes', int('fetch max wait'), 100)
  .option('--partitions <n>', 'partitions of topics this process creates', int('partitions'), 3)
  .parse();
const o = program.opts<{
  brokers: string; port: number; inputTopic: string; outputTopic: string; stateTopic?: string; deadLetterTopic?: string;
  group: string; transactionalIdPrefix: string; transactionTimeoutMs: number; partitions: number;
  fetchMinBytes: number; fetchMaxWaitMs: number;
}>();

const log = pino({ name: 'stream-processor', level: process.env.LOG_LEVEL ?? 'info' });
const { enabled, others } = parseDefects(process.env.ORDEAL_DEFECTS);
const mode = deliveryMode(enabled);
if (enabled.length) log.warn({ defects: enabled, mode }, 'SEEDED DEFECTS ENABLED: this processor is deliberately incorrect');
if (others.length) log.info({ ignored: others }, 'defects for other processes ignored');

const running = await startStreamProcessor({
  brokers: o.brokers.split(',').map((b) => b.trim()).filter(Boolean),
  clientId: `stream-processor-${process.pid}`,
  inputTopic: o.inputTopic,
  outputTopic: o.outputTopic,
  stateTopic: o.stateTopic ?? `${o.outputTopic}.dedup-state`,
  deadLetterTopic: o.deadLetterTopic ?? `${o.inputTopic}.dead-letter`,
  groupId: o.group,
  transactionalIdPrefix: o.transactionalIdPrefix,
  transactionTimeoutMs: o.transactionTimeoutMs,
  fetchMinBytes: o.fetchMinBytes,
  fetchMaxWaitMs: o.fetchMaxWaitMs,
  partitions: o.partitions,
  mode,
  defects: enabled,
}, log, o.port);
log.info({ port: running.port, mode, group: o.group, input: o.inputTopic, output: o.outputTopic }, 'http listening');

let stopping = false;
const shutdown = (signal: string) => {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'stopping');
  const force = setTimeout(() => { log.error('graceful stop took longer than 30 s; exiting'); process.exit(1); }, 30000);
  force.unref();
  running.stop().then(() => process.exit(0), (err: unknown) => { log.error({ err }, 'stop failed'); process.exit(1); });
};
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
