// On a bootstrapped machine, bootstrap again does no network work and takes seconds:
// every installer it could call is replaced by a sentinel that records the call,
// and proxies point at a closed port in case anything tries the network directly.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadStackConfig } from '../../scripts/stack/index.ts';

test('bootstrap re-run: no installer called, no network, done in seconds', () => {
  const root = loadStackConfig().root;
  const sentinels = mkdtempSync(join(tmpdir(), 'ordeal-sentinels-'));
  const calls = join(sentinels, 'calls.log');
  for (const tool of ['apt-get', 'npm', 'mvn', 'go', 'pip', 'pip3', 'curl', 'wget']) {
    const path = join(sentinels, tool);
    writeFileSync(path, `#!/bin/sh\necho "${tool} $*" >> ${calls}\nexit 1\n`);
    chmodSync(path, 0o755);
  }
  const closed = 'http://127.0.0.1:9';
  const t0 = Date.now();
  const res = spawnSync('bash', [join(root, 'scripts', 'bootstrap')], {
    encoding: 'utf8',
    timeout: 60_000,
    env: {
      ...process.env,
      PATH: `${sentinels}:${process.env.PATH}`,
      http_proxy: closed, https_proxy: closed, HTTP_PROXY: closed, HTTPS_PROXY: closed,
      npm_config_offline: 'true', PIP_NO_INDEX: '1', GOPROXY: 'off',
    },
  });
  const seconds = (Date.now() - t0) / 1000;
  assert.equal(res.status, 0, res.stderr + res.stdout);
  assert.equal(existsSync(calls) ? readFileSync(calls, 'utf8') : '', '', 'installers were called');
  const steps = res.stdout.split('\n').filter((l) => l.includes('[bootstrap]') && !/\bdone\b/.test(l));
  assert.equal(steps.length, 6, res.stdout);
  for (const line of steps) assert.match(line, /cached|new enough/, line);
  assert.ok(seconds < 20, `bootstrap took ${seconds}s`);
});
