// Benchmark of the stream processor alone (exactly-once mode) against the running
// stack's Kafka: (1) drain rate of a backlog, (2) end-to-end latency at fixed rates,
// measured from the relay's send to the settlement's arrival at a read_committed
// consumer. Noisy on a shared machine: run briefly, read as an order of magnitude.
//   scripts/run-node bench/stream-processor.ts [--backlog 60000] [--rates 1000,2000,4000] [--seconds 10]
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import hdr from 'hdr-histogram-js';
import {
  createTopics, deleteTopics, groupLag, kafkaClient, ProcessorChild, Relay, uniquePipeline,
} from '../test/stream-processor/harness.ts';

const { values } = parseArgs({ options: {
  backlog: { type: 'string', default: '60000' },
  rates: { type: 'string', default: '1000,2000,4000' },
  seconds: { type: 'string', default: '10' },
} });
const kafka = kafkaClient();

async function drain(backlog: number): Promise<void> {
  const p = uniquePipeline('bench-drain');
  await createTopics(kafka, p);
  const relay = new Relay(kafka, p);
  await relay.connect();
  for (let sent = 0; sent < backlog; sent += 2000) await relay.send(Math.min(2000, backlog - sent), 0);
  const child = ProcessorChild.start(p);
  try {
    await child.waitHealthy();
    const t0 = Date.now();
    while ((await groupLag(kafka, p.group, p.input)) > 0) await sleep(100);
    const s = (Date.now() - t0) / 1000;
    const m = await child.metrics();
    console.log(`backlog drain: ${backlog} payments in ${s.toFixed(1)} s = ${Math.round(backlog / s)} payments/s, ` +
      `${m.get('stream_processor_transactions_committed_total')} transactions`);
  } finally {
    await child.stop();
    await relay.disconnect();
    await deleteTopics(kafka, p);
  }
}

async function steady(rate: number, seconds: number): Promise<void> {
  const p = uniquePipeline(`bench-${rate}`);
  await createTopics(kafka, p);
  const relay = new Relay(kafka, p);
  await relay.connect();
  const child = ProcessorChild.start(p);
  const sentAt = new Map<string, number>();
  const hist = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60000, numberOfSignificantValueDigits: 3 });
  let received = 0;
  const reader = kafka.consumer({ groupId: `bench-reader-${randomUUID()}`, readUncommitted: false, maxWaitTimeInMs: 20 });
  try {
    await child.waitHealthy();
    await reader.connect();
    await reader.subscribe({ topic: p.output, fromBeginning: true });
    await reader.run({ eachBatch: async ({ batch }) => {
      const now = Date.now();
      for (const m of batch.messages) {
        const t = sentAt.get(m.key!.toString());
        if (t !== undefined) { hist.recordValue(Math.max(1, now - t)); received++; }
      }
    } });
    await sleep(1000);
    const tickMs = 20;
    const perTick = rate * tickMs / 1000;
    const t0 = Date.now();
    let sent = 0;
    while (Date.now() - t0 < seconds * 1000) {
      const due = Math.floor(((Date.now() - t0) / 1000) * rate);
      const n = Math.min(due - sent, perTick * 10);
      if (n > 0) {
        const before = relay.sent.size;
        const now = Date.now();
        const sending = relay.send(n, 0);
        for (const id of [...relay.sent.keys()].slice(before)) sentAt.set(id, now);
        await sending;
        sent += n;
      }
      await sleep(tickMs);
    }
    const deadline = Date.now() + 30000;
    while (received < sent && Date.now() < deadline) await sleep(100);
    const m = await child.metrics();
    const txns = m.get('stream_processor_transaction_duration_seconds_count') ?? 0;
    const txnMs = txns ? (1000 * (m.get('stream_processor_transaction_duration_seconds_sum') ?? 0)) / txns : 0;
    console.log(`rate ${rate}/s for ${seconds} s: sent ${sent}, settled ${received}, ` +
      `latency p50 ${hist.getValueAtPercentile(50)} ms, p99 ${hist.getValueAtPercentile(99)} ms, max ${hist.maxValue} ms; ` +
      `${txns} transactions, mean ${txnMs.toFixed(1)} ms, ${(received / Math.max(1, txns)).toFixed(0)} payments each`);
  } finally {
    await reader.disconnect();
    await child.stop();
    await relay.disconnect();
    await deleteTopics(kafka, p);
  }
}

await drain(Number(values.backlog));
for (const r of values.rates.split(',').map(Number)) await steady(r, Number(values.seconds));
