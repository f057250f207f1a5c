// The supervisor's promises, through the real CLI on a second, throw-away stack:
// up is idempotent, a dead service shows as down and `up` restarts only it, down
// leaves no process behind (checked by pid, children included), and a taken port
// is refused before anything starts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { loadStackConfig, portFree, stackProcessIds, stackServices } from '../../scripts/stack/index.ts';
import { procStartTime } from '../../scripts/stack/process.ts';

const home = mkdtempSync(join(tmpdir(), 'ordeal-lifecycle-'));
const env = {
  ...process.env,
  ORDEAL_HOME: home,
  ORDEAL_PORT_OFFSET: process.env.ORDEAL_LIFECYCLE_PORT_OFFSET ?? '950',
};
const config = loadStackConfig(env);
const cli = join(config.root, 'scripts', 'ordeal');

function ordeal(...args: string[]) {
  const res = spawnSync(cli, args, { env, encoding: 'utf8', timeout: 180_000 });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

interface Row { service: string; state: string; pid: number | null; port: number }
const parse = (out: string) => JSON.parse(out) as Row[];
const alive = (pid: number, starttime: string | undefined) => starttime !== undefined && procStartTime(pid) === starttime;

after(() => {
  ordeal('stack', 'down', '--purge');
  rmSync(home, { recursive: true, force: true });
});

describe('stack lifecycle (second stack, ports offset ' + env.ORDEAL_PORT_OFFSET + ')', () => {
  let firstPids: { pid: number; starttime: string | undefined }[] = [];

  test('up from an empty home starts every service and reports it ready', () => {
    const res = ordeal('stack', 'up', '--json');
    assert.equal(res.code, 0, res.stderr);
    const rows = parse(res.stdout);
    assert.deepEqual(rows.map((r) => r.service), stackServices.map((s) => s.name));
    for (const r of rows) assert.equal(r.state, 'up', r.service);
    firstPids = stackProcessIds(config, stackServices).map((pid) => ({ pid, starttime: procStartTime(pid) }));
    // Each service's own process plus PostgreSQL's backends.
    assert.ok(firstPids.length > stackServices.length, `only ${firstPids.length} processes`);
  });

  test('up again is a no-op: same processes, every service already running', () => {
    const before = parse(ordeal('stack', 'status', '--json').stdout);
    const res = ordeal('stack', 'up', '--json');
    assert.equal(res.code, 0, res.stderr);
    for (const s of stackServices) assert.match(res.stderr, new RegExp(`${s.name}\\s+already-running`));
    assert.doesNotMatch(res.stderr, /starting/);
    assert.deepEqual(parse(res.stdout).map((r) => r.pid), before.map((r) => r.pid));
  });

  test('a service that dies is reported down; up restarts only that one', () => {
    const rows = parse(ordeal('stack', 'status', '--json').stdout);
    const redis = rows.find((r) => r.service === 'redis')!;
    process.kill(redis.pid!, 'SIGKILL');
    spawnSync('sleep', ['0.5']);
    const st = ordeal('stack', 'status', '--json');
    assert.equal(st.code, 3, 'status exits 3 when a service is not up');
    const after = parse(st.stdout);
    assert.equal(after.find((r) => r.service === 'redis')!.state, 'down');
    assert.equal(after.find((r) => r.service === 'postgres')!.state, 'up');

    const res = ordeal('stack', 'up', '--json');
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stderr, /redis\s+starting/);
    const restarted = parse(res.stdout);
    assert.notEqual(restarted.find((r) => r.service === 'redis')!.pid, redis.pid);
    for (const r of restarted.filter((r) => r.service !== 'redis')) {
      assert.equal(r.pid, rows.find((x) => x.service === r.service)!.pid, `${r.service} was not restarted`);
    }
  });

  test('down stops every process it started, children included, and frees the ports', async () => {
    const before = stackProcessIds(config, stackServices).map((pid) => ({ pid, starttime: procStartTime(pid) }));
    const res = ordeal('stack', 'down');
    assert.equal(res.code, 0, res.stderr);
    const left = [...firstPids, ...before].filter((p) => alive(p.pid, p.starttime));
    assert.deepEqual(left, [], 'processes still alive after down');
    assert.deepEqual(readdirSync(join(home, 'run')), [], 'pid files left behind');
    for (const port of Object.values(config.ports)) {
      if (port === config.ports.stripe_emulator || port > 17999) continue; // reserved for services added later
      assert.ok(await portFree(port), `port ${port} still bound`);
    }
  });

  test('a port already in use is named with its service, and nothing starts', async () => {
    const port = config.ports.redis;
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', r));
    try {
      const res = ordeal('stack', 'up');
      assert.equal(res.code, 2);
      assert.match(res.stderr, new RegExp(`redis: port ${port} \\(redis\\) is in use`));
      assert.match(res.stderr, /nothing was started/);
      const pidDir = join(home, 'run');
      assert.deepEqual(existsSync(pidDir) ? readdirSync(pidDir) : [], []);
      assert.ok(await portFree(config.ports.toxiproxy), 'toxiproxy must not have started');
      assert.ok(await portFree(config.ports.postgres), 'postgres must not have started');
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });
});
