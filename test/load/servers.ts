// Loopback HTTP servers the load tests aim at: a correct idempotent payment endpoint,
// a deliberately broken one (new payment per request, whatever the key), and knobs
// to stall it. Real sockets on 127.0.0.1; nothing is mocked.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TestServerOptions {
  /** Each key names one payment (correct) or every request makes a new one (broken). */
  idempotency?: 'correct' | 'broken';
  /** Fixed answer delay in ms. */
  delayMs?: number;
  /** Answer this status instead of 201 (per request, decided by the function). */
  statusFor?: (key: string, n: number) => number;
}

export interface TestServer {
  url: string;
  server: Server;
  /** Requests per idempotency key, in arrival order (ms timestamps). */
  requests: Map<string, number[]>;
  total(): number;
  /** While stalled, requests are held and answered when the stall ends. */
  stall(ms: number): void;
  close(): Promise<void>;
}

export async function startTestServer(o: TestServerOptions = {}): Promise<TestServer> {
  const payments = new Map<string, string>();
  const requests = new Map<string, number[]>();
  let seq = 0;
  let total = 0;
  let stalledUntil = 0;
  const held: (() => void)[] = [];
  const answer = (req: IncomingMessage, res: ServerResponse, body: string) => {
    const key = String(req.headers['idempotency-key'] ?? '');
    const times = requests.get(key) ?? [];
    times.push(Date.now());
    requests.set(key, times);
    total++;
    const status = o.statusFor?.(key, times.length) ?? 201;
    const respond = () => {
      if (status >= 200 && status < 300) {
        let id = o.idempotency === 'broken' ? undefined : payments.get(key);
        if (!id) { id = `pay_${++seq}`; payments.set(key, id); }
        let message_id: unknown;
        try { message_id = (JSON.parse(body) as { message_id?: unknown }).message_id; } catch { /* GET */ }
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ id, message_id }));
      } else res.writeHead(status, { 'content-type': 'application/json' }).end('{"error":"test"}');
    };
    const go = () => (o.delayMs ? setTimeout(respond, o.delayMs) : respond());
    if (Date.now() < stalledUntil) held.push(go);
    else go();
  };
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => { body += c; });
    req.on('end', () => answer(req, res, body));
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    requests,
    total: () => total,
    stall(ms) {
      stalledUntil = Date.now() + ms;
      setTimeout(() => { for (const go of held.splice(0)) go(); }, ms);
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
