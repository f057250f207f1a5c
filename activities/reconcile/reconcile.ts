// The reconcile activity: validates its input, builds the configured sources
// (defaults from the system file: the scenario's resolution fills them in), and runs the streaming engine with
// heartbeats so a long reconciliation survives a worker's liveness checks.
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import pino from 'pino';
import { z } from 'zod';
import { environment } from '../environment/index.ts';
import type { SystemFile } from '../system/schema.ts';
import { ledgerSpecSchema } from '../ledger/index.ts';
import { DEFAULT_MAX_IDS, reconcileStreams } from './engine.ts';
import type { OutcomeSource, RecordSource } from './engine.ts';
import { loadOutcomeSource } from './outcomes.ts';
import { kafkaSource } from './sources/kafka.ts';
import { postgresSource } from './sources/postgres.ts';
import { stripeSource } from './sources/stripe.ts';
import { reconcileSourceSchema } from './types.ts';
import type { ReconcileInput, ReconcileResult, ReconcileSourceSpec } from './types.ts';

let logger: pino.Logger | undefined;
const log = () => (logger ??= pino({ name: 'ordeal.reconcile', level: process.env.ORDEAL_LOG_LEVEL ?? 'info' }));


const inputSchema = z.object({
  runId: z.string().min(1).max(100).regex(/^[A-Za-z0-9_.:-]+$/, 'letters, digits and _ . : - only'),
  ledger: ledgerSpecSchema,
  sources: z.array(reconcileSourceSchema).min(1, 'at least one system of record to reconcile against'),
  scope: z.enum(['full', 'acknowledged']).default('full'),
}).strict();

export interface ReconcileDeps {
  /** The outcome log of a run; the load engine's table in Ordeal's database by default. */
  outcomes?: (runId: string) => OutcomeSource;
  /** The system whose defaults fill a source's missing url/brokers; the environment's when omitted. */
  system?: () => SystemFile;
  maxIds?: number;
}

/** A source's missing url/brokers come from the system file's defaults.reconcile.<kind>. */
export function buildSource(spec: ReconcileSourceSpec, system: SystemFile): RecordSource {
  const d = system.defaults?.reconcile?.[spec.source] ?? {};
  const missing = (what: string): never => {
    throw ApplicationFailure.nonRetryable(`reconcile source ${spec.name} (${spec.source}) has no ${what}, and system ${system.name} `
      + `gives no defaults.reconcile.${spec.source}.${what}`, 'ReconcileInputError');
  };
  switch (spec.source) {
    case 'postgres': return postgresSource(spec, spec.url ?? (typeof d.url === 'string' ? d.url : missing('url')));
    case 'kafka': return kafkaSource(spec, spec.brokers ?? (Array.isArray(d.brokers) ? d.brokers.map(String) : missing('brokers')));
    case 'stripe': return stripeSource(spec, spec.url ?? (typeof d.url === 'string' ? d.url : missing('url')));
  }
}

export function parseReconcileInput(input: ReconcileInput): z.output<typeof inputSchema> {
  const parsed = inputSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`);
    throw ApplicationFailure.nonRetryable(`invalid reconcile input:\n  ${problems.join('\n  ')}`, 'ReconcileInputError', problems);
  }
  const names = parsed.data.sources.map((s) => s.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) {
    throw ApplicationFailure.nonRetryable(`invalid reconcile input: two sources are named "${dup}" (give each a distinct name)`, 'ReconcileInputError');
  }
  return parsed.data;
}

function activityContext(): Context | null {
  try {
    return Context.current();
  } catch {
    return null;
  }
}

export function createReconcileActivities(deps: ReconcileDeps = {}) {
  return {
    async reconcile(input: ReconcileInput): Promise<ReconcileResult> {
      const { runId, ledger, sources, scope } = parseReconcileInput(input);
      const system = (deps.system ?? (() => environment().defaultSystem()))();
      const outcomes = deps.outcomes?.(runId) ?? loadOutcomeSource(environment().ordealDbUrl);
      const ctx = activityContext();
      log().info({ runId, scope, ledger: ledger.messages, sources: sources.map((s) => `${s.name}:${s.source}`) }, 'reconcile started');
      const result = await reconcileStreams(runId, ledger, outcomes, sources.map((s) => buildSource(s, system)), {
        maxIds: deps.maxIds ?? DEFAULT_MAX_IDS, scope,
        ...(ctx ? { signal: ctx.cancellationSignal, onProgress: (p) => ctx.heartbeat(p) } : {}),
      });
      log().info({
        runId, exactlyOnce: result.exactlyOnce, ms: result.duration_ms, outcomes: result.outcomes,
        sources: Object.fromEntries(result.sources.map((s) => [s.source, Object.fromEntries(Object.entries(s.classes).map(([c, t]) => [c, t.count]))])),
      }, 'reconcile done');
      for (const s of result.sources) for (const w of s.warnings) log().warn({ runId, source: s.source }, w);
      return result;
    },
  };
}
