// Temporal Schedules through the CLI: create (cron, overlap SKIP), list, trigger,
// delete, against the dev server; the triggered run is a real experiment on the
// stack's worker (task queue ordeal) that stops early at its steady-state gate.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ScheduleOverlapPolicy } from '@temporalio/client';
import { OrdealClient } from '../../scripts/client/index.ts';
import { repoRoot } from '../../scripts/stack/config.ts';
import { config, until } from './harness.ts';
import { EXPERIMENT_WORKFLOW } from '../../workflows/names.ts';

const cli = (...args: string[]) => spawnSync('bash', [join(repoRoot, 'scripts', 'ordeal'), ...args], { encoding: 'utf8', env: process.env, timeout: 60_000 });
const id = `nightly-test-${process.pid}`;
let ordeal: OrdealClient;

before(async () => {
  ordeal = await OrdealClient.connect({ config });
});
after(async () => {
  await ordeal.client.schedule.getHandle(id).delete().catch(() => {});
  await ordeal.close();
});

async function runsOf(scheduleId: string): Promise<{ id: string; status: string }[]> {
  const out = [];
  for await (const w of ordeal.client.workflow.list({ query: `TemporalScheduledById = '${scheduleId}'` })) out.push({ id: w.workflowId, status: w.status.name });
  return out;
}

void test('schedule create, list, trigger (overlap SKIP), delete', async () => {
  // A probe nobody answers: the run stops at steady state after 15 s, touching nothing
  // (a ledger the size of its tiny load, and no fault, so that the scenario validates).
  const created = cli('schedule', 'create', id, '--scenario', 'db_failure_peak_load', '--cron', '0 2 * * *', '--paused',
    '--set', 'ledger.messages=10', '--set', 'load.rate=1', '--set', 'load.duration=10s', '--set', 'load.warmup=0', '--set', 'faults=[]',
    '--set', 'steady_state.probe=http://127.0.0.1:1/ready', '--set', 'steady_state.timeout=15s');
  assert.equal(created.status, 0, created.stderr);

  const d = await ordeal.client.schedule.getHandle(id).describe();
  assert.equal(d.policies.overlap, ScheduleOverlapPolicy.SKIP);
  assert.equal(d.action.type, 'startWorkflow');
  assert.equal(d.action.type === 'startWorkflow' && d.action.workflowType, EXPERIMENT_WORKFLOW);
  assert.equal(d.spec.calendars?.[0]?.hour?.[0]?.start, 2, 'nightly at 02:00');

  const listed = cli('schedule', 'list', '--json');
  assert.equal(listed.status, 0, listed.stderr);
  assert.ok((JSON.parse(listed.stdout) as { scheduleId: string }[]).some((s) => s.scheduleId === id));

  // Two triggers while the first run is still going: the second is skipped (overlap SKIP).
  assert.equal(cli('schedule', 'trigger', id).status, 0);
  await until('the first triggered run', async () => (await runsOf(id)).length > 0, 15_000, 200);
  await ordeal.triggerSchedule(id);
  const runs = await until('the triggered run to finish', async () => {
    const r = await runsOf(id);
    return r.length > 0 && r.every((x) => x.status !== 'RUNNING') ? r : null;
  }, 90_000, 500);
  assert.equal(runs.length, 1, `one run, the overlapping trigger skipped: ${JSON.stringify(runs)}`);
  const result = await ordeal.handle(runs[0]!.id).result();
  // A system that never becomes healthy is the system's failure, not Ordeal's.
  assert.equal(result.verdict, 'FAIL');
  assert.match(result.reasons[0]!, /steady-state: .*127\.0\.0\.1:1\/ready was not healthy/);

  const deleted = cli('schedule', 'delete', id);
  assert.equal(deleted.status, 0, deleted.stderr);
  const after = JSON.parse(cli('schedule', 'list', '--json').stdout) as { scheduleId: string }[];
  assert.ok(!after.some((s) => s.scheduleId === id));
});
