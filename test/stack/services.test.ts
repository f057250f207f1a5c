// The test stack (started by scripts/test from an empty data dir) answers real
// clients, and the clients of PostgreSQL, Redis and Kafka really go through Toxiproxy.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { Connection } from '@temporalio/client';
import { Redis } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { request } from 'undici';
import { ToxiproxyClient } from '../../activities/faults/toxiproxy/client.ts';
import { loadStackConfig, stackServices, status } from '../../scripts/stack/index.ts';

const config = loadStackConfig();
const p = config.ports;
const toxiproxy = new ToxiproxyClient(`http://127.0.0.1:${p.toxiproxy}`);

after(async () => {
  // Whatever a failed assertion left behind: every proxy enabled, no toxics.
  await toxiproxy.reset();
});

const pgClient = () => new pg.Client({ host: '127.0.0.1', port: p.postgres_proxy, user: 'postgres', database: 'payments',
  connectionTimeoutMillis: 2000, query_timeout: 3000 });
const redisClient = () => new Redis({ host: '127.0.0.1', port: p.redis_proxy, lazyConnect: true, connectTimeout: 2000,
  maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false }).on('error', () => {
  // Connection errors surface as rejected commands, which the tests assert on.
});
const kafka = () => new Kafka({ clientId: `stack-test-${randomUUID()}`, brokers: [`127.0.0.1:${p.kafka_proxy}`],
  logLevel: logLevel.NOTHING, connectionTimeout: 2000, requestTimeout: 4000, retry: { retries: 1, initialRetryTime: 100 } });

async function pgQuery(): Promise<number> {
  const c = pgClient();
  try {
    await c.connect();
    const r = await c.query<{ n: number }>('SELECT 41 + 1 AS n');
    return r.rows[0]!.n;
  } finally {
    await c.end().catch(() => {});
  }
}

async function redisRoundTrip(): Promise<string | null> {
  const c = redisClient();
  try {
    await c.connect();
    const key = `stack-test:${randomUUID()}`;
    await c.set(key, 'hello', 'EX', 60);
    return await c.get(key);
  } finally {
    c.disconnect();
  }
}

async function kafkaMetadata(): Promise<string[]> {
  const admin = kafka().admin();
  try {
    await admin.connect();
    return await admin.listTopics();
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

describe('every service answers a real client', () => {
  test('status reports every service up with its pid and port', async () => {
    const rows = await status({ config, services: stackServices });
    for (const row of rows) {
      assert.equal(row.state, 'up', `${row.service}: ${row.detail}`);
      assert.ok(row.pid && row.pid > 0);
    }
    assert.deepEqual(rows.map((r) => r.service).sort(), stackServices.map((s) => s.name).sort());
  });

  test('PostgreSQL runs a query (through its proxy)', async () => {
    assert.equal(await pgQuery(), 42);
  });

  test("Ordeal's own database is a separate cluster, not behind the proxy", async () => {
    const c = new pg.Client({ host: '127.0.0.1', port: p.ordeal_db, user: 'postgres', database: 'ordeal' });
    await c.connect();
    try {
      const r = await c.query<{ port: string }>('SHOW port');
      assert.equal(Number(r.rows[0]!.port), p.ordeal_db);
    } finally {
      await c.end();
    }
  });

  test('Redis SET then GET (through its proxy)', async () => {
    assert.equal(await redisRoundTrip(), 'hello');
  });

  test('Kafka: produce a message, consume the same message (through the proxy)', async () => {
    const k = kafka();
    const topic = `stack-test-${randomUUID()}`;
    const admin = k.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    await admin.disconnect();
    const value = `payload-${randomUUID()}`;
    const producer = k.producer();
    await producer.connect();
    await producer.send({ topic, messages: [{ key: 'k', value }] });
    await producer.disconnect();

    const consumer = k.consumer({ groupId: `g-${randomUUID()}` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const received = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no message within 60s')), 60000);
      void consumer.run({
        eachMessage: async ({ message }) => {
          clearTimeout(timer);
          resolve(message.value?.toString() ?? '');
        },
      });
    });
    await consumer.disconnect();
    assert.equal(received, value);
  });

  test('Kafka advertises the proxy port, so clients cannot bypass Toxiproxy', async () => {
    const admin = kafka().admin();
    await admin.connect();
    try {
      const cluster = await admin.describeCluster();
      assert.deepEqual(cluster.brokers.map((b) => `${b.host}:${b.port}`), [`127.0.0.1:${p.kafka_proxy}`]);
    } finally {
      await admin.disconnect();
    }
  });

  test('Temporal describes the default namespace and has the Ordeal search attributes', async () => {
    const conn = await Connection.connect({ address: `127.0.0.1:${p.temporal}` });
    try {
      const ns = await conn.workflowService.describeNamespace({ namespace: 'default' });
      assert.equal(ns.namespaceInfo?.name, 'default');
      const attrs = await conn.operatorService.listSearchAttributes({ namespace: 'default' });
      for (const a of ['OrdealScenario', 'OrdealVerdict', 'OrdealRunId']) assert.ok(a in (attrs.customAttributes ?? {}), a);
    } finally {
      await conn.close();
    }
    const ui = await request(`http://127.0.0.1:${p.temporal_ui}/`);
    assert.equal(ui.statusCode, 200);
    await ui.body.dump();
  });

  test('Toxiproxy lists a proxy per proxied service, each pointing at its upstream', async () => {
    const proxies = await toxiproxy.proxies();
    assert.deepEqual(Object.keys(proxies).sort(), ['kafka', 'postgres', 'redis']);
    assert.equal(proxies.postgres!.upstream, `127.0.0.1:${p.postgres}`);
    assert.equal(proxies.postgres!.listen, `127.0.0.1:${p.postgres_proxy}`);
    assert.equal(proxies.redis!.upstream, `127.0.0.1:${p.redis}`);
    assert.equal(proxies.kafka!.upstream, `127.0.0.1:${p.kafka}`);
  });

  test('Prometheus scrapes the stack: its targets are up', async () => {
    // Targets appear after the first discovery and scrape, a few seconds after start.
    let up: string[] = [];
    for (let i = 0; i < 60 && !['prometheus', 'toxiproxy', 'temporal'].every((j) => up.includes(j)); i++) {
      const res = await request(`http://127.0.0.1:${p.prometheus}/api/v1/targets`);
      const body = (await res.body.json()) as { data: { activeTargets: { labels: { job: string }; health: string }[] } };
      up = body.data.activeTargets.filter((t) => t.health === 'up').map((t) => t.labels.job);
      await new Promise((r) => setTimeout(r, 500));
    }
    for (const job of ['prometheus', 'toxiproxy', 'temporal']) assert.ok(up.includes(job), `${job} up in [${up.join(',')}]`);
  });
});

describe('clients really go through Toxiproxy', () => {
  const cases: [string, () => Promise<unknown>][] = [
    ['postgres', pgQuery],
    ['redis', redisRoundTrip],
    ['kafka', kafkaMetadata],
  ];
  for (const [proxy, use] of cases) {
    test(`${proxy}: disabling the proxy breaks the client, re-enabling it heals`, async () => {
      await use(); // works before
      await toxiproxy.setEnabled(proxy, false);
      try {
        await assert.rejects(use(), `${proxy} client should fail while its proxy is disabled`);
      } finally {
        await toxiproxy.setEnabled(proxy, true);
      }
      // Recovery: the same kind of client works again right away.
      await use();
      assert.equal((await toxiproxy.proxy(proxy)).enabled, true);
    });
  }
});
