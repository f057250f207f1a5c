// The raw HTTP/1.1 client (plain http) and undici (https and the fallback) read the
// same answers the same way: content-length, chunked, connection: close, no body.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
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

void test('answers split anywhere across reads and any header case parse the same for both clients; raw skips 1xx', async () => {
  // A raw server, so the answer's bytes arrive exactly as written: a head cut mid-name,
  // a body in pieces, chunk-size lines cut in two, 100 Continue before the answer.
  const answers: Record<string, string[]> = {
    '/split': ['HTTP/1.1 200 OK\r\nConte', 'nt-Length: 11\r\nX-A: b\r', '\n\r\n{"id":', '"sp"}'],
    '/interim': ['HTTP/1.1 100 Continue\r\n\r\n', 'HTTP/1.1 201 Created\r\ncontent-length: 10\r\n\r\n{"id":"i"}'],
    '/chunks': ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', '6\r\n{"id":\r\n', '5\r', '\n"ch"}\r\n0\r', '\n\r\n'],
    '/caps': ['HTTP/1.1 202 Accepted\r\nCONTENT-LENGTH:   4\r\nConnection: keep-alive\r\n\r\n"ok"'],
  };
  let connections = 0;
  const srv = createNetServer((sock) => {
    connections++;
    let buf = '';
    sock.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const len = Number(/content-length: (\d+)/i.exec(buf.slice(0, end))?.[1] ?? 0);
      if (buf.length < end + 4 + len) return;
      const parts = answers[buf.slice(buf.indexOf(' ') + 1, buf.indexOf(' ', buf.indexOf(' ') + 1))]!;
      buf = '';
      let i = 0;
      const next = () => { sock.write(parts[i++]!); if (i < parts.length) setTimeout(next, 15); };
      next();
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  try {
    for (const client of ['raw', 'undici'] as const) {
      const before = connections;
      const h = new HttpTarget(origin, 1, { client });
      const send = (path: string) => h.send({ method: 'POST', path, headers: { 'content-type': 'application/json' }, body: '{}' }, 2000);
      assert.deepEqual(await send('/split'), { status: 200, body: '{"id":"sp"}' }, client);
      // undici refuses a 100 the request did not ask for (no Expect); the raw client skips interim answers.
      if (client === 'raw') assert.deepEqual(await send('/interim'), { status: 201, body: '{"id":"i"}' }, client);
      assert.deepEqual(await send('/chunks'), { status: 200, body: '{"id":"ch"}' }, client);
      assert.deepEqual(await send('/caps'), { status: 202, body: '"ok"' }, client);
      // Every answer ended where it should: the one connection served them all.
      assert.equal(connections - before, 1, client);
      await h.close();
    }
  } finally { srv.close(); }
});
