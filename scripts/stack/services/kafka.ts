import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import type { ServiceContext, ServiceSpec } from '../service.ts';

export const READY_TOPIC = 'ordeal.ready';

export const kafka: ServiceSpec = {
  name: 'kafka',
  description: 'Apache Kafka 3.9 (KRaft, single node)',
  ports: ['kafka', 'kafka_controller', 'kafka_internal'],
  proxy: { name: 'kafka', listen: 'kafka_proxy', upstream: 'kafka' },
  url: (c) => `127.0.0.1:${c.ports.kafka_proxy}`,
  after: ['toxiproxy'],
  async prepare(ctx) {
    const p = ctx.config.ports;
    mkdirSync(join(ctx.dataDir, 'logs'), { recursive: true });
    // Clients must reach the broker through Toxiproxy, so the client listener
    // advertises the proxy's port; broker-internal traffic (transaction markers)
    // uses its own listener and so is not cut by a client-side network fault.
    const props = {
      'process.roles': 'broker,controller',
      'node.id': 1,
      'controller.quorum.voters': `1@127.0.0.1:${p.kafka_controller}`,
      listeners: `PLAINTEXT://127.0.0.1:${p.kafka},INTERNAL://127.0.0.1:${p.kafka_internal},CONTROLLER://127.0.0.1:${p.kafka_controller}`,
      'advertised.listeners': `PLAINTEXT://127.0.0.1:${p.kafka_proxy},INTERNAL://127.0.0.1:${p.kafka_internal}`,
      'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT',
      'inter.broker.listener.name': 'INTERNAL',
      'controller.listener.names': 'CONTROLLER',
      'log.dirs': join(ctx.dataDir, 'logs'),
      'num.partitions': 3,
      'offsets.topic.replication.factor': 1,
      'offsets.topic.num.partitions': 10,
      'transaction.state.log.replication.factor': 1,
      'transaction.state.log.min.isr': 1,
      'transaction.state.log.num.partitions': 10,
      'group.initial.rebalance.delay.ms': 0,
      'auto.create.topics.enable': true,
      'log.retention.hours': 48,
    };
    writeFileSync(join(ctx.dataDir, 'server.properties'), Object.entries(props).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
    writeFileSync(join(ctx.dataDir, 'log4j.properties'), [
      'log4j.rootLogger=WARN, stdout',
      'log4j.appender.stdout=org.apache.log4j.ConsoleAppender',
      'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout',
      'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n',
      'log4j.logger.kafka.server.KafkaServer=INFO',
      'log4j.logger.kafka.server.BrokerServer=INFO',
    ].join('\n') + '\n');
    if (existsSync(join(ctx.dataDir, 'logs', 'meta.properties'))) return;
    // A KRaft cluster id is 16 random bytes, base64url: no JVM start needed to make one.
    const clusterId = randomBytes(16).toString('base64url');
    // `--cluster-id=<id>` in one argument: an id that starts with '-' (1 in 64) would otherwise be taken for an option.
    const res = spawnSync('java', [...jvmArgs(ctx), 'kafka.tools.StorageTool', 'format', `--cluster-id=${clusterId}`,
      '-c', join(ctx.dataDir, 'server.properties'), '--ignore-formatted'], { encoding: 'utf8' });
    if (res.status !== 0) throw new Error(`kafka storage format failed (exit ${res.status}): ${res.stderr || res.stdout}`);
  },
  launch: (ctx) => ({
    file: 'java',
    args: ['-Xms128m', '-Xmx512m', '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20',
      // Extra JVM flags for investigations (GC or JIT logs), e.g. ORDEAL_KAFKA_JVM_FLAGS='-Xlog:gc:file=/tmp/gc.log'.
      ...(process.env.ORDEAL_KAFKA_JVM_FLAGS?.split(/\s+/).filter(Boolean) ?? []), ...jvmArgs(ctx), 'kafka.Kafka',
      join(ctx.dataDir, 'server.properties')],
  }),
  async ready(ctx) {
    const client = new Kafka({ clientId: 'ordeal-stack', brokers: [this.url(ctx.config)], logLevel: logLevel.NOTHING,
      connectionTimeout: 2000, requestTimeout: 5000, retry: { retries: 0 } });
    const admin = client.admin();
    await admin.connect();
    try {
      const topics = await admin.listTopics();
      if (!topics.includes(READY_TOPIC)) {
        await admin.createTopics({ topics: [{ topic: READY_TOPIC, numPartitions: 1 }], waitForLeaders: true });
      }
      await admin.fetchTopicMetadata({ topics: [READY_TOPIC] });
    } finally {
      await admin.disconnect();
    }
  },
  stopGraceMs: 20000,
  readyTimeoutMs: 120000,
};

function jvmArgs(ctx: ServiceContext): string[] {
  const libs = join(ctx.config.tools, 'kafka', 'libs');
  if (!existsSync(libs)) throw new Error(`Kafka jars not found in ${libs}: run scripts/bootstrap`);
  return ['-Djava.awt.headless=true', `-Dlog4j.configuration=file:${join(ctx.dataDir, 'log4j.properties')}`,
    '-cp', `${libs}/*`];
}
