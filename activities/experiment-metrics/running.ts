// The running experiments, read at scrape time from their own `status` query (the
// source of truth for phase and active faults), so nothing in the workflow has to
// push metrics. At most one refresh per second, however many gauges collect.
import type { Client } from '@temporalio/client';
import { Gauge } from 'prom-client';
import pino from 'pino';
import { EXPERIMENT_WORKFLOW, STATUS_QUERY } from '../../workflows/names.ts';
import type { ExperimentStatus } from '../../workflows/types.ts';
import { experimentRegistry } from './registry.ts';

const log = pino({ name: 'ordeal-experiment-metrics' });
const QUERY_TIMEOUT_MS = 2000;
const MAX_RUNNING = 100;

let source: (() => Promise<Client>) | null = null;
let refreshing: Promise<void> | null = null;
let refreshedAt = 0;

const reg = [experimentRegistry];
const collect = async () => { await refresh(); };
const running = new Gauge({ name: 'ordeal_experiments_running', help: 'Experiments running now (answering their status query)', registers: reg, collect });
const phase = new Gauge({ name: 'ordeal_experiment_phase', help: 'Current phase of each running experiment (value 1)',
  labelNames: ['scenario', 'run_id', 'workflow_id', 'phase'], registers: reg, collect });
const faults = new Gauge({ name: 'ordeal_experiment_active_faults', help: 'Faults injected and not yet reverted, by type and target, per running experiment',
  labelNames: ['scenario', 'run_id', 'type', 'target'], registers: reg, collect });
const rate = new Gauge({ name: 'ordeal_experiment_load_rate', help: 'Requests per second of each running experiment\'s load (from its shards\' progress)',
  labelNames: ['scenario', 'run_id'], registers: reg, collect });
const p99 = new Gauge({ name: 'ordeal_experiment_load_p99_seconds', help: 'Worst shard p99 latency of each running experiment\'s load so far',
  labelNames: ['scenario', 'run_id'], registers: reg, collect });
const sent = new Gauge({ name: 'ordeal_experiment_load_sent', help: 'Ledger entries sent so far, per running experiment', labelNames: ['scenario', 'run_id'], registers: reg, collect });

/** Where to find Temporal (the orchestrator's client); without one the running gauges stay empty. */
export function observeRunningExperiments(client: () => Promise<Client>): void {
  source = client;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms).unref())]);
}

async function read(): Promise<{ workflowId: string; status: ExperimentStatus }[]> {
  if (!source) return [];
  const client = await source();
  const ids: string[] = [];
  for await (const w of client.workflow.list({ query: `WorkflowType = '${EXPERIMENT_WORKFLOW}' AND ExecutionStatus = 'Running'` })) {
    ids.push(w.workflowId);
    if (ids.length >= MAX_RUNNING) break;
  }
  const answers = await Promise.allSettled(ids.map(async (workflowId) =>
    ({ workflowId, status: await withTimeout(client.workflow.getHandle(workflowId).query<ExperimentStatus>(STATUS_QUERY), QUERY_TIMEOUT_MS) })));
  return answers.flatMap((a) => (a.status === 'fulfilled' ? [a.value] : []));
}

function refresh(): Promise<void> {
  if (refreshing) return refreshing;
  if (Date.now() - refreshedAt < 1000) return Promise.resolve();
  refreshing = read().then((list) => {
    for (const g of [phase, faults, rate, p99, sent]) g.reset();
    running.set(list.length);
    for (const { workflowId, status: s } of list) {
      const base = { scenario: s.scenario ?? 'unknown', run_id: s.run_id };
      phase.set({ ...base, workflow_id: workflowId, phase: s.phase }, 1);
      for (const f of s.active_faults) faults.inc({ ...base, type: f.type, target: f.target });
      rate.set(base, s.rate);
      p99.set(base, s.p99_ms / 1000);
      sent.set(base, s.sent);
    }
  }, (err: unknown) => {
    log.warn({ err: err instanceof Error ? err.message : String(err) }, 'reading running experiments failed; running gauges kept from the last scrape');
  }).finally(() => { refreshedAt = Date.now(); refreshing = null; });
  return refreshing;
}
