// The raw HTTP/1.1 client (plain http) and undici (https and the fallback) read the
// same answers the same way: content-length, chunked, connection: close, no body.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpTarget, errorClass } from '../../activities/load/http.ts';

void test('raw client and undici agree on content-length, chunked, close-delimited and empty answers', async () => {
  const seen: string[] = [];
  const srv = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString(); });
    req.on('end', () => {
      seen.push(`${req.method} ${req.url} ${req.headers['idempotency-key']} ${body}`);
      if (req.url === '/chunked') { res.writeHead(200, { 'content-type': 'application/json' }); res.write('{"id":'); setTimeout(() => res.end('"ch_1","ünï":"çødé"}'), 20); }
      else if (req.url === '/close') { res.writeHead(201, { connection: 'close' }); res.end('{"id":"c"}'); }
      else if (req.url === '/empty') res.writeHead(204).end();
      else res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"x"}');
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  try {
    for (const client of ['raw', 'undici'] as const) {
      const h = new HttpTarget(origin, 4, { client });
      const send = (path: string) => h.send({ method: 'POST', path, headers: { 'idempotency-key': `k-${client}`, 'content-type': 'application/json' }, body: '{"a":"é"}' }, 2000);
      assert.deepEqual(await send('/chunked'), { status: 200, body: '{"id":"ch_1","ünï":"çødé"}' }, client);
      assert.deepEqual(await send('/close'), { status: 201, body: '{"id":"c"}' }, client);
      assert.deepEqual(await send('/empty'), { status: 204, body: '' }, client);
      assert.deepEqual(await send('/other'), { status: 503, body: '{"error":"x"}' }, client);
      // Several at once over the pool, after a close-delimited answer dropped a connection.
      const many = await Promise.all(Array.from({ length: 10 }, () => send('/chunked')));
      assert.ok(many.every((a) => a.status === 200));
      await h.close();
      await assert.rejects(send('/close'), (err) => errorClass(err) === 'cancelled', `${client}: a closed client refuses`);
    }
    assert.equal(seen.filter((s) => s === 'POST /chunked k-raw {"a":"é"}').length, 11);
    assert.equal(seen.filter((s) => s === 'POST /chunked k-undici {"a":"é"}').length, 11);
  } finally { srv.closeAllConnections(); srv.close(); }
});

void test('a server that resets the connection mid-answer is a connection_reset, for both clients', async () => {
  const srv = createServer((req) => { req.socket.destroy(); });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  try {
    for (const client of ['raw', 'undici'] as const) {
      const h = new HttpTarget(origin, 2, { client });
      await assert.rejects(h.send({ method: 'POST', path: '/', headers: {}, body: '{}' }, 2000), (err) => errorClass(err) === 'connection_reset', client);
      await h.close();
    }
  } finally { srv.close(); }
});
