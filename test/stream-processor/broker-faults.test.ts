// The correct processor while its Kafka connection fails mid-stream: cut (proxy
// disabled) and then blackholed (requests hang until they time out, leaving kafkajs
// producers inside an open transaction). Errors end the processor's session, the next
// session fences the open transactions, and the read_committed view stays exactly once.
// Each fault is shown to be in effect: the processor reaches Kafka only through the
// proxy; while cut, nothing answers there and the processor's connections are gone;
// while blackholed, requests get no answer; in both, no transaction commits.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ToxiproxyClient } from '../../activities/faults/toxiproxy/client.ts';
import { tcpSockets } from '../../process-table/index.ts';
import { loadStackConfig } from '../../scripts/stack/config.ts';
import {
  drainAndStop, inputEvents, kafkaAnswers, kafkaClient, metricSum, openPipeline, ProcessorChild, streamPayments, summary, verify,
} from './harness.ts';

const kafka = kafkaClient();
const ports = loadStackConfig().ports;
const toxiproxy = new ToxiproxyClient(`http://127.0.0.1:${ports.toxiproxy}`);
const FAULT_MS = 4000;
/** The processor's open connections to any of the broker's ports: through the proxy, or around it. */
const kafkaConnections = (pid: number) => tcpSockets(pid)
  .filter((x) => x.state === 'ESTABLISHED' && [ports.kafka_proxy, ports.kafka, ports.kafka_internal].includes(x.remotePort));
const commits = async (child: ProcessorChild) => metricSum(await child.metrics(), 'stream_processor_transactions_committed_total');

async function until(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await sleep(50);
  }
}
const children: ProcessorChild[] = [];
after(async () => {
  await toxiproxy.reset();
  for (const c of children) await c.kill();
});

void test('broker connection cut and blackholed mid-stream → payments.settled exactly once', { timeout: 240000 }, async (t) => {
  const { p, relay } = await openPipeline(t, kafka, 'faults');
  const child = ProcessorChild.start(p);
  children.push(child);
  await child.waitHealthy();

  // The relay's own sends fail during the faults too; what counts is what reached the topic.
  const stream = streamPayments(relay, 100, true);
  try {
    await sleep(2000);
    const through = kafkaConnections(child.pid);
    assert.ok(through.length > 0 && through.every((x) => x.remotePort === ports.kafka_proxy),
      `the processor reaches Kafka only through its proxy (port ${ports.kafka_proxy}): ${JSON.stringify(through)}`);
    assert.equal(await kafkaAnswers(ports.kafka_proxy), true, 'the broker answers through the proxy before the faults');

    await toxiproxy.setEnabled('kafka', false);
    const cutAt = Date.now();
    assert.equal(await kafkaAnswers(ports.kafka_proxy), false, 'cut: nothing answers through the proxy');
    await until('cut: the processor has no connection to Kafka left', () => kafkaConnections(child.pid).length === 0, FAULT_MS - 1000);
    const commitsCut = await commits(child);
    await sleep(Math.max(0, FAULT_MS - (Date.now() - cutAt)));
    assert.equal(await commits(child), commitsCut, 'cut: no transaction commits while the broker is unreachable');
    await toxiproxy.setEnabled('kafka', true);
    await child.waitHealthy();
    await sleep(2000);

    const toxic = await toxiproxy.addToxic('kafka', { name: 'sp-blackhole', type: 'timeout', stream: 'downstream', attributes: { timeout: 0 } });
    const holeAt = Date.now();
    assert.equal(await kafkaAnswers(ports.kafka_proxy), false, 'blackhole: a request through the proxy gets no answer');
    const commitsHole = await commits(child);
    await sleep(Math.max(0, FAULT_MS - (Date.now() - holeAt)));
    assert.equal(await commits(child), commitsHole, 'blackhole: no transaction commits while answers are dropped');
    await toxiproxy.removeToxic('kafka', toxic.name);
    await child.waitHealthy(90000);
    await sleep(2000);
    assert.equal(await kafkaAnswers(ports.kafka_proxy), true, 'the broker answers through the proxy again after both faults');
  } finally {
    await stream.stop();
    await toxiproxy.reset();
  }
  const m = await drainAndStop(kafka, p, child);
  const reached = await inputEvents(kafka, p);
  const v = await verify(kafka, p, reached);
  t.diagnostic(`${summary(v)}; relay attempted ${relay.sent.size}, send errors ${stream.errors()}; ` +
    `session restarts ${metricSum(m, 'stream_processor_session_restarts_total')}, aborted transactions ${metricSum(m, 'stream_processor_transactions_aborted_total')}`);
  if (process.env.SP_DEBUG) console.log(child.lines.join("\n"));
  assert.ok(reached.size > 3000, `the stream must carry real volume (${reached.size} payments reached the topic)`);
  assert.deepEqual(v.missing, [], `lost settlements: ${summary(v)}`);
  assert.deepEqual(v.duplicated, [], `duplicated settlements: ${summary(v)}`);
  assert.deepEqual(v.ghosts, [], `ghost settlements: ${summary(v)}`);
  assert.deepEqual(v.mismatched, [], `wrong settlements: ${summary(v)}`);
  assert.equal(v.settledRecords, reached.size, 'one committed record per payment on the input topic');
});
