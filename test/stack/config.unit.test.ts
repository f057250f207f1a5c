import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { defaultPorts, loadStackConfig } from '../../scripts/stack/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'ordeal-config-'));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const base = { ORDEAL_STACK_CONFIG: file('empty.yaml', '{}\n') };

test('defaults, then an offset for every port, then one explicit port', () => {
  assert.deepEqual(loadStackConfig(base).ports, { ...defaultPorts });
  const shifted = loadStackConfig({ ...base, ORDEAL_PORT_OFFSET: '100' }).ports;
  for (const [k, v] of Object.entries(defaultPorts)) assert.equal(shifted[k as keyof typeof defaultPorts], v + 100);
  assert.equal(loadStackConfig({ ...base, ORDEAL_PORT_REDIS: '6390' }).ports.redis, 6390);
});

test('a config file sets home and ports; the environment wins over it', () => {
  const f = file('stack.yaml', 'home: /tmp/x\nports:\n  redis: 7000\nport_offset: 5\n');
  const c = loadStackConfig({ ORDEAL_STACK_CONFIG: f });
  assert.equal(c.home, '/tmp/x');
  assert.equal(c.ports.redis, 7000);
  assert.equal(c.ports.postgres, defaultPorts.postgres + 5);
  assert.equal(loadStackConfig({ ORDEAL_STACK_CONFIG: f, ORDEAL_HOME: '/tmp/y' }).home, '/tmp/y');
});

test('bad settings name the field and what was expected', () => {
  assert.throws(() => loadStackConfig({ ...base, ORDEAL_PORT_OFFSET: 'ten' }), /ORDEAL_PORT_OFFSET=ten is not an integer/);
  assert.throws(() => loadStackConfig({ ...base, ORDEAL_PORT_REDIS: String(defaultPorts.postgres) }), /ports postgres and redis are both 15432/);
  assert.throws(() => loadStackConfig({ ...base, ORDEAL_PORT_REDIS: '80' }), /port redis = 80 is outside 1024..65535/);
  const bad = file('bad.yaml', 'ports:\n  redis: "x"\n  nosuch: 1\n');
  assert.throws(() => loadStackConfig({ ORDEAL_STACK_CONFIG: bad }), (err: Error) =>
    /ports\.redis/.test(err.message) && /nosuch/.test(err.message));
  assert.throws(() => loadStackConfig({ ORDEAL_STACK_CONFIG: join(dir, 'missing.yaml') }), /does not exist/);
});
