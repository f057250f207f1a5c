// The process-table reader against the real /proc: this test's own process and a
// child it starts, plus the parser on the lines that trip naive splitting.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo } from 'node:net';
import { test } from 'node:test';
import { commandLine, cpuSeconds, parseStat, procStartTime, processTree, readStat, rssBytes, runningProcesses, tcpSockets } from '../../process-table/index.ts';

/** A stat line as the kernel writes it, fields 3..52, with the given command name. */
const statLine = (comm: string) =>
  `4242 (${comm}) S 17 4242 4242 0 -1 4194560 1 0 0 0 7 3 0 0 20 0 1 0 987654 1000 10 ${'0 '.repeat(28).trim()}`;

void test('parseStat: the command name may hold spaces and parentheses; fields after the last ")" are read', () => {
  for (const comm of ['node', 'a b', 'x) S 1 (y', ') )']) {
    assert.deepEqual(parseStat(statLine(comm)), { pid: 4242, state: 'S', ppid: 17, cpuTicks: 10, starttime: '987654' }, comm);
  }
  assert.throws(() => parseStat('not a stat line'), /not a \/proc\/<pid>\/stat line.*"not a stat line"/);
  assert.throws(() => parseStat('12 (short) S 1 2'), /at least 22 fields/);
});

void test("this process: state, parent, start time, CPU, memory and argv agree with Node's own view", () => {
  const s = readStat(process.pid);
  assert.ok(s);
  assert.equal(s.pid, process.pid);
  assert.equal(s.ppid, process.ppid);
  assert.match(s.state, /^[RS]$/);
  assert.equal(procStartTime(process.pid), s.starttime);
  const t0 = cpuSeconds(process.pid);
  const until = Date.now() + 150;
  while (Date.now() < until) { /* burn CPU that the next reading must show */ }
  assert.ok(cpuSeconds(process.pid) > t0, 'CPU time grows while the process runs');
  const rss = rssBytes(process.pid)!;
  assert.ok(Math.abs(rss - process.memoryUsage().rss) < 0.25 * rss, `VmRSS ${rss} vs memoryUsage ${process.memoryUsage().rss}`);
  assert.equal(commandLine(process.pid)?.[0], process.argv0);
  assert.ok(runningProcesses().some((p) => p.pid === process.pid && p.starttime === s.starttime));
});

void test('a child: in the tree of its parent while it runs; gone from the table once reaped', async () => {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    const pid = child.pid!;
    const tree = processTree(process.pid);
    assert.equal(tree[0]!.pid, process.pid, 'the root comes first');
    assert.ok(tree.some((p) => p.pid === pid && p.ppid === process.pid), JSON.stringify(tree));
    child.kill('SIGKILL');
    await once(child, 'exit');
    assert.equal(readStat(pid), undefined);
    assert.equal(procStartTime(pid), undefined);
    assert.equal(rssBytes(pid), undefined);
    assert.equal(commandLine(pid), undefined);
    assert.throws(() => cpuSeconds(pid), new RegExp(`process ${pid} is not running`));
  } finally {
    child.kill('SIGKILL');
  }
});

void test("tcpSockets: this process's own listening and connected sockets, with ports and states", async () => {
  const server = createServer((s) => s.pause());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const client = connect(port, '127.0.0.1');
  await once(client, 'connect');
  try {
    const mine = tcpSockets(process.pid);
    assert.ok(mine.some((x) => x.localPort === port && x.state === 'LISTEN'), JSON.stringify(mine));
    assert.ok(mine.some((x) => x.localPort === client.localPort && x.remotePort === port && x.remoteAddress === '127.0.0.1' && x.state === 'ESTABLISHED'),
      JSON.stringify(mine));
    // Another process's view: the same namespace's table, but none of these sockets is its own.
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      assert.ok(!tcpSockets(child.pid!).some((x) => x.localPort === port || x.localPort === client.localPort));
    } finally { child.kill('SIGKILL'); }
  } finally {
    client.destroy();
    server.close();
  }
  assert.deepEqual(tcpSockets(2 ** 22 + 1), [], 'no such process: no sockets');
});
