// The typed client API for pipelines and tools: start an experiment, follow it,
// await its verdict; list runs; manage schedules. The CLI is built on this.
//
//   const ordeal = await OrdealClient.connect();
//   const run = await ordeal.start({ scenario: 'db_failure_peak_load', overrides: ['load.rate=200'] });
//   const result = await run.result();   // ExperimentResult; result.verdict === 'PASS'
import { randomBytes } from 'node:crypto';
import {
  ApplicationFailure, Client, Connection, ScheduleOverlapPolicy, WorkflowFailedError, WorkflowNotFoundError,
  type WorkflowExecutionInfo,
} from '@temporalio/client';
import { validateScenario, ScenarioError } from '../../activities/scenario/resolve.ts';
import type { ScenarioProblem } from '../../activities/scenario/schema.ts';
import type { Verdict } from '../../activities/report/types.ts';
import { loadStackConfig, type StackConfig } from '../stack/config.ts';
import '../stack/use-environment.ts';
import { environment } from '../../activities/environment/index.ts';
import { temporalConnectionOptions } from '../../activities/environment/temporal.ts';
import {
  ABORT_SIGNAL, EXPERIMENT_WORKFLOW, ORCHESTRATOR_TASK_QUEUE, STATUS_QUERY, WORKFLOW_TYPES, type WorkflowType,
} from '../../workflows/names.ts';
import {
  OrdealRunId, OrdealScenario, OrdealVerdict,
  type AbortRequest, type ExperimentInput, type ExperimentResult, type ExperimentStatus, type SoakInput, type SoakResult,
} from '../../workflows/types.ts';

export type { ExperimentInput, ExperimentResult, ExperimentStatus, Verdict, SoakInput, SoakResult };
export { ScenarioError };

/** Exit codes of `ordeal run --wait`: 0 PASS, 1 FAIL, 2 ABORTED or error. */
export function exitCodeOf(verdict: Verdict | null): 0 | 1 | 2 {
  return verdict === 'PASS' ? 0 : verdict === 'FAIL' ? 1 : 2;
}

export interface RunSummary {
  workflowId: string;
  runId: string | null;
  scenario: string | null;
  verdict: string | null;
  status: string;
  startTime: Date;
  closeTime: Date | null;
}

export class ExperimentHandle {
  readonly workflowId: string;
  readonly #client: Client;
  readonly #uiBase: string;
  constructor(client: Client, workflowId: string, uiBase: string) {
    this.#client = client;
    this.workflowId = workflowId;
    this.#uiBase = uiBase;
  }

  get uiUrl(): string {
    return `${this.#uiBase}/namespaces/default/workflows/${encodeURIComponent(this.workflowId)}`;
  }

  /** Waits for the verdict. A scenario that failed validation throws ScenarioError (with every problem). */
  async result(): Promise<ExperimentResult> {
    try {
      return await this.#client.workflow.getHandle(this.workflowId).result() as ExperimentResult;
    } catch (err) {
      if (err instanceof WorkflowFailedError && err.cause instanceof ApplicationFailure && err.cause.type === 'InvalidScenario') {
        const problems = (err.cause.details?.[0] ?? []) as ScenarioProblem[];
        throw new ScenarioError('(workflow)', problems.length ? problems : [{ path: '', message: err.cause.message }]);
      }
      throw err;
    }
  }

  status(): Promise<ExperimentStatus> {
    return this.#client.workflow.getHandle(this.workflowId).query<ExperimentStatus>(STATUS_QUERY);
  }

  async describe(): Promise<{ status: string; closed: boolean }> {
    const d = await this.#client.workflow.getHandle(this.workflowId).describe();
    return { status: d.status.name, closed: d.status.name !== 'RUNNING' };
  }

  /** The `abort` signal: the run stops, every fault is reverted, verdict ABORTED. */
  abort(reason: string): Promise<void> {
    return this.#client.workflow.getHandle(this.workflowId).signal(ABORT_SIGNAL, { reason } satisfies AbortRequest);
  }

  /** Workflow cancellation, as the Web UI's "Request Cancellation" does. */
  cancel(): Promise<void> {
    return this.#client.workflow.getHandle(this.workflowId).cancel().then(() => {});
  }
}

export interface ConnectOptions {
  config?: StackConfig;
  address?: string;
  namespace?: string;
  taskQueue?: string;
}

export interface ScheduleSpecInput {
  scheduleId: string;
  input: ExperimentInput | SoakInput;
  /** The experiment (default) or the soak. */
  workflow?: WorkflowType;
  /** Cron expressions, e.g. '0 2 * * *' for 02:00 every night. */
  cron?: string[];
  /** Or a fixed interval like '1h'. */
  every?: string;
  note?: string;
  paused?: boolean;
}

export class OrdealClient {
  readonly client: Client;
  readonly connection: Connection;
  readonly config: StackConfig;
  readonly taskQueue: string;
  readonly uiBase: string;

  private constructor(connection: Connection, client: Client, config: StackConfig, taskQueue: string) {
    this.connection = connection;
    this.client = client;
    this.config = config;
    this.taskQueue = taskQueue;
    this.uiBase = `http://127.0.0.1:${config.ports.temporal_ui}`;
  }

  static async connect(o: ConnectOptions = {}): Promise<OrdealClient> {
    const config = o.config ?? loadStackConfig();
    const { temporal } = environment();
    const connection = await Connection.connect({ ...temporalConnectionOptions(temporal), ...(o.address ? { address: o.address } : {}), connectTimeout: 5000 });
    const client = new Client({ connection, namespace: o.namespace ?? temporal.namespace });
    return new OrdealClient(connection, client, config, o.taskQueue ?? ORCHESTRATOR_TASK_QUEUE);
  }

  async close(): Promise<void> {
    await this.connection.close();
  }

  /** Connects, runs `fn`, and closes the connection whatever `fn` did (one CLI command's client). */
  static async withConnection<T>(fn: (ordeal: OrdealClient) => Promise<T>, o: ConnectOptions = {}): Promise<T> {
    const ordeal = await OrdealClient.connect(o);
    try {
      return await fn(ordeal);
    } finally {
      await ordeal.close();
    }
  }

  /** Validates locally first (every problem at once, nothing started), then starts the workflow. */
  async start(input: ExperimentInput & { workflowId?: string; skipLocalValidation?: boolean }): Promise<ExperimentHandle> {
    let name = typeof input.scenario === 'string' ? input.scenario : String(input.scenario.name ?? 'inline');
    if (!input.skipLocalValidation) {
      // Notify variables are the orchestrator worker's (it sends): the run's own validation there checks them.
      const outcome = await validateScenario({ scenario: input.scenario, overrides: input.overrides ?? [] }, { env: false });
      if (!outcome.ok) throw new ScenarioError(outcome.source, outcome.problems);
      name = outcome.scenario.name;
    }
    const workflowId = input.workflowId ?? experimentWorkflowId(name);
    const { workflowId: _w, skipLocalValidation: _s, ...wfInput } = input;
    await this.client.workflow.start(EXPERIMENT_WORKFLOW, {
      taskQueue: this.taskQueue,
      workflowId,
      args: [wfInput satisfies ExperimentInput],
      typedSearchAttributes: [{ key: OrdealScenario, value: name }],
      staticSummary: `chaos experiment ${name}`,
    });
    return this.handle(workflowId);
  }

  handle(workflowId: string): ExperimentHandle {
    return new ExperimentHandle(this.client, workflowId, this.uiBase);
  }

  /** Recent experiment runs, newest first; filter by scenario and/or verdict (search attributes). */
  async list(o: { scenario?: string; verdict?: string; limit?: number } = {}): Promise<RunSummary[]> {
    const clauses = [`WorkflowType IN (${WORKFLOW_TYPES.map((t) => `'${t}'`).join(', ')})`];
    if (o.scenario) clauses.push(`OrdealScenario = '${o.scenario.replace(/'/g, '')}'`);
    if (o.verdict) clauses.push(`OrdealVerdict = '${o.verdict.replace(/'/g, '')}'`);
    const out: RunSummary[] = [];
    for await (const w of this.client.workflow.list({ query: clauses.join(' AND ') })) {
      out.push(summaryOf(w));
      if (out.length >= (o.limit ?? 50)) break;
    }
    return out;
  }

  async createSchedule(s: ScheduleSpecInput): Promise<void> {
    const workflowType = s.workflow ?? EXPERIMENT_WORKFLOW;
    const scenarioRef = (s.input as { scenario: unknown }).scenario;
    const name = typeof scenarioRef === 'string' ? scenarioRef : 'inline';
    await this.client.schedule.create({
      scheduleId: s.scheduleId,
      spec: { ...(s.cron ? { cronExpressions: s.cron } : {}), ...(s.every ? { intervals: [{ every: s.every as `${number}h` }] } : {}) },
      action: {
        type: 'startWorkflow',
        workflowType,
        taskQueue: this.taskQueue,
        args: [s.input],
        workflowId: `ordeal-${s.scheduleId}`,
        typedSearchAttributes: [{ key: OrdealScenario, value: name }],
      },
      // A nightly soak that is still running when the next one is due is not doubled up.
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1m' },
      state: { paused: s.paused ?? false, ...(s.note ? { note: s.note } : {}) },
    });
  }

  async listSchedules(): Promise<{ scheduleId: string; workflowType: string | null; cron: string[]; nextRun: Date | null; recent: number; paused: boolean }[]> {
    const out = [];
    for await (const s of this.client.schedule.list()) {
      const d = await this.client.schedule.getHandle(s.scheduleId).describe();
      out.push({
        scheduleId: s.scheduleId,
        workflowType: s.action?.type === 'startWorkflow' ? s.action.workflowType : null,
        cron: d.spec.calendars?.length ? [`${d.spec.calendars.length} calendar spec(s)`] : (d.spec.intervals ?? []).map((i) => `every ${String(i.every)}`),
        nextRun: d.info.nextActionTimes[0] ?? null,
        recent: d.info.recentActions.length,
        paused: d.state.paused,
      });
    }
    return out;
  }

  async deleteSchedule(scheduleId: string): Promise<void> {
    await this.client.schedule.getHandle(scheduleId).delete();
  }

  /** Starts the scheduled action now (overlap SKIP still applies). */
  async triggerSchedule(scheduleId: string): Promise<void> {
    await this.client.schedule.getHandle(scheduleId).trigger(ScheduleOverlapPolicy.SKIP);
  }

  async exists(workflowId: string): Promise<boolean> {
    try {
      await this.client.workflow.getHandle(workflowId).describe();
      return true;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    }
  }
}

export function experimentWorkflowId(scenario: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `ordeal-${scenario}-${stamp}-${randomBytes(2).toString('hex')}`;
}

function summaryOf(w: WorkflowExecutionInfo): RunSummary {
  const sa = w.typedSearchAttributes;
  return {
    workflowId: w.workflowId,
    runId: sa.get(OrdealRunId) ?? null,
    scenario: sa.get(OrdealScenario) ?? null,
    verdict: sa.get(OrdealVerdict) ?? null,
    status: w.status.name,
    startTime: w.startTime,
    closeTime: w.closeTime ?? null,
  };
}
