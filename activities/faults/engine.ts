// Injection, revert, evidence and validation over the backends. Every injected fault
// gets a lease row in Ordeal's database before it is applied; every revert goes
// through a per-target lock and marks the lease, so a worker, the watchdog and
// `ordeal panic` can all revert the same handle, in any order, any number of times.
import { createHash, randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import pino from 'pino';
import { environment } from '../environment/index.ts';
import { isUnreachable, withOrdealDb } from '../environment/ordeal-db.ts';
import { LOCAL_HOST, type ProxyDecl, type SystemFile } from '../system/schema.ts';
import { FaultPreconditionError, type FaultBackend, type FaultContext } from './backend.ts';
import { dockerBackend } from './docker/index.ts';
import { hostBackend } from './host/index.ts';
import { LeaseStore, type LeaseRow, type PanicState } from './leases.ts';
import { processBackend } from './process/index.ts';
import { providerBackend } from './provider/index.ts';
import { createRunProxies as createProxies, removeRunProxies as removeProxiesOfRun, sweepRunProxies, type RunProxy } from './proxies/index.ts';
import { hostOfFault } from './routing.ts';
import { toxiproxyBackend } from './toxiproxy/index.ts';
import {
  faultSpecSchema, type FaultBackendName, type FaultEvidence, type FaultHandle, type FaultSpec, type FaultType,
  type FaultValidationIssue, type InjectFaultInput, type RevertResult,
} from './types.ts';

const log = pino({ name: 'ordeal-faults', level: process.env.ORDEAL_LOG_LEVEL ?? 'info' }, pino.destination(2));

export const backends: Record<FaultBackendName, FaultBackend> = {
  process: processBackend(),
  toxiproxy: toxiproxyBackend(),
  provider: providerBackend(),
  docker: dockerBackend(),
  host: hostBackend(),
};

/**
 * The backend a spec names, or the natural one for its type; a kill or pause of a
 * service the system declares as `kind: docker` goes to the docker backend.
 */
export function backendOf(spec: Pick<FaultSpec, 'type' | 'backend' | 'target'>, system?: SystemFile): FaultBackendName {
  if (spec.backend) return spec.backend;
  if (spec.type.startsWith('network_')) return 'toxiproxy';
  if (spec.type.startsWith('provider_')) return 'provider';
  if (spec.type === 'disk_full' || spec.type === 'memory_pressure' || spec.type === 'cpu_spike') return 'host';
  return system?.services[spec.target]?.kind === 'docker' ? 'docker' : 'process';
}

const MAX_LEASE_MS = 24 * 3600_000;

// --- shared state of this process (a worker, the watchdog, the CLI) ----------------------

let shared: { ctx: FaultContext; store: LeaseStore } | undefined;

/**
 * The environment's context, built once per process; the system defaults to the
 * environment's (the embedded stack's) until a call names the scenario's.
 */
function state(system?: SystemFile): { ctx: FaultContext; store: LeaseStore } {
  if (!shared) {
    const env = environment();
    shared = { ctx: { env, host: env.host, get system() { return env.defaultSystem(); } }, store: new LeaseStore(env.ordealDbUrl) };
  }
  return system ? { ctx: { ...shared.ctx, system }, store: shared.store } : shared;
}

/** The fault host this process serves (the environment's: 'local' unless `ordeal worker --faults --host`). */
export function faultHost(): string {
  return state().ctx.host;
}

/** Ends this process's connection pool to Ordeal's database (tests, CLI). */
export async function closeFaults(): Promise<void> {
  const s = shared;
  shared = undefined;
  await s?.store.close();
}

export function faultStore(): LeaseStore {
  return state().store;
}

// --- validation -------------------------------------------------------------------------

function staticIssues(raw: unknown, index: number, base: (string | number)[], system?: SystemFile): { spec?: FaultSpec; issues: FaultValidationIssue[] } {
  const at = [...base, index];
  const parsed = faultSpecSchema.safeParse(raw);
  if (!parsed.success) {
    return { issues: parsed.error.issues.map((i) => ({ path: [...at, ...(i.path as (string | number)[])], message: i.message })) };
  }
  const spec = parsed.data;
  const name = backendOf(spec, state(system).ctx.system);
  const backend = backends[name];
  if (!backend.types.includes(spec.type)) {
    const able = (Object.values(backends) as FaultBackend[]).filter((b) => b.types.includes(spec.type)).map((b) => b.name);
    return { spec, issues: [{ path: [...at, 'backend'], message: `backend ${name} cannot inject ${spec.type} (backends that can: ${able.join(', ')}; ${name} does: ${backend.types.join(', ')})` }] };
  }
  const issues = backend.check(spec, state(system).ctx).map((message) => ({
    path: [...at, message.startsWith('params.') ? 'params' : 'target'],
    message: `${spec.type} on ${spec.target} (${name}): ${message}`,
  }));
  return { spec, issues };
}

/**
 * Checks every fault of a scenario without touching anything. Static checks (schema,
 * type/backend/target combination, params) always; read-only probes of the backend
 * (container exists, proxy exists) for docker targets, which cannot be known
 * statically, and for every backend when `live` is set. An empty list means valid.
 */
export async function validateFaultTargets(specs: unknown[], opts: { live?: boolean; pathPrefix?: (string | number)[]; system?: SystemFile } = {}): Promise<FaultValidationIssue[]> {
  const base = opts.pathPrefix ?? ['faults'];
  const out: FaultValidationIssue[] = [];
  for (const [i, raw] of specs.entries()) {
    const { spec, issues } = staticIssues(raw, i, base, opts.system);
    out.push(...issues);
    if (!spec || issues.length) continue;
    const backend = backends[backendOf(spec, state(opts.system).ctx.system)];
    // A probe reads this machine: another host's service is probed by that host's fault worker.
    if (backend.probe && (opts.live || backend.name === 'docker') && hostOfFault(spec, opts.system ?? state().ctx.system) === faultHost()) {
      for (const message of await backend.probe(spec, state(opts.system).ctx)) out.push({ path: [...base, i, 'target'], message: `${spec.type} on ${spec.target} (${backend.name}): ${message}` });
    }
  }
  return out;
}

function nonRetryable(err: unknown, what: string): never {
  const message = `${what}: ${err instanceof Error ? err.message : String(err)}`;
  throw ApplicationFailure.nonRetryable(message, 'FaultPrecondition');
}

function wrongHost(host: string, what: string): never {
  nonRetryable(new Error(`it belongs to fault host "${host}", and this fault worker serves host "${faultHost()}" ` +
    `(route it to task queue ordeal-faults-${host}, served by: ordeal worker --faults --host ${host})`), what);
}

// --- injection ----------------------------------------------------------------------

/**
 * A fault id that is stable across retries of the same activity, so a retried
 * injection finds its own lease instead of injecting the fault a second time.
 */
function faultIdFor(spec: FaultSpec): string {
  let seed: string;
  try {
    const info = Context.current().info;
    seed = `${info.workflowExecution?.workflowId ?? info.activityType}/${info.workflowExecution?.runId ?? ''}/${info.activityId}`;
  } catch {
    seed = randomUUID();
  }
  const slug = `${spec.type}-${spec.target}`.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 40);
  return `${slug}-${createHash('sha256').update(seed).digest('hex').slice(0, 12)}`;
}

export async function injectFault(input: InjectFaultInput): Promise<FaultHandle> {
  const { ctx: base, store } = state(input.system);
  const ctx: FaultContext = { ...base, runId: input.runId };
  const parsed = faultSpecSchema.safeParse(input.spec);
  if (!parsed.success) nonRetryable(new Error(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')), 'invalid fault spec');
  const spec = parsed.data;
  if (!Number.isFinite(input.leaseMs) || input.leaseMs <= 0 || input.leaseMs > MAX_LEASE_MS) {
    nonRetryable(new Error(`leaseMs must be in 1..${MAX_LEASE_MS}, got ${input.leaseMs}`), `cannot inject ${spec.type} on ${spec.target}`);
  }
  const problems = staticIssues(spec, 0, ['spec'], input.system).issues;
  if (problems.length) nonRetryable(new Error(problems.map((p) => p.message).join('; ')), 'invalid fault');
  const host = hostOfFault(spec, ctx.system);
  if (host !== ctx.host) wrongHost(host, `refusing to inject ${spec.type} on ${spec.target}`);
  const panic = await store.panic();
  if (panic.active) nonRetryable(new Error(`ordeal panic is active since ${panic.since?.toISOString()} (${panic.reason ?? 'no reason'}); clear it with: ordeal panic --clear`), `refusing to inject ${spec.type} on ${spec.target}`);

  const backend = backends[backendOf(spec, ctx.system)];
  const faultId = faultIdFor(spec);
  const previous = await store.get(faultId);
  if (previous?.state === 'active') {
    log.info({ faultId }, 'fault already injected by an earlier attempt of this activity; returning its handle');
    return previous.handle;
  }
  if (previous?.state === 'injecting') {
    // An earlier attempt died half-way: undo whatever it did before starting over.
    await revertFault(previous.handle, 'inject-retry');
  }
  if (previous) await store.forget(faultId);

  const now = new Date();
  // The system has been disturbed since the interrupted attempt began (a database killed by
  // it stays down until this attempt's revert): the fault's window and its hold count from
  // then, so the report does not judge those seconds as steady state.
  const startedAt = previous?.state === 'injecting' ? new Date(previous.handle.injectedAt) : now;
  const leaseExpiresAt = new Date(now.getTime() + input.leaseMs);
  let revert;
  try {
    revert = await backend.plan(spec, faultId, ctx, leaseExpiresAt);
  } catch (err) {
    if (err instanceof FaultPreconditionError) nonRetryable(err, `cannot inject ${spec.type} on ${spec.target}`);
    throw err;
  }
  const handle: FaultHandle = {
    faultId, runId: input.runId, type: spec.type, target: spec.target, backend: backend.name,
    injectedAt: startedAt.toISOString(), leaseExpiresAt: leaseExpiresAt.toISOString(), revert,
    ...(host !== LOCAL_HOST ? { host } : {}),
  };
  await store.record(handle, 'injecting');
  try {
    const learnt = await backend.inject(handle, spec, ctx);
    if (learnt) handle.revert = { ...handle.revert, ...learnt };
  } catch (err) {
    log.error({ faultId, err: (err as Error).message }, 'injection failed; reverting whatever was applied');
    await revertFault(handle, 'inject-failed').catch((e: unknown) => log.error({ faultId, err: (e as Error).message }, 'revert after failed injection failed'));
    if (err instanceof FaultPreconditionError) nonRetryable(err, `cannot inject ${spec.type} on ${spec.target}`);
    throw new Error(`injecting ${spec.type} on ${spec.target} (${backend.name}) failed: ${(err as Error).message}`, { cause: err });
  }
  await store.record(handle, 'active');
  // A panic raised while we were injecting may have scanned the leases before ours existed.
  if ((await store.panic()).active) {
    // Forced: the panic may have marked the lease reverted before the fault was applied.
    await revertFault(handle, 'panic', { force: true });
    nonRetryable(new Error('ordeal panic was raised during injection; the fault was reverted'), `refusing to inject ${spec.type} on ${spec.target}`);
  }
  log.info({ faultId, type: spec.type, target: spec.target, backend: backend.name, leaseExpiresAt: handle.leaseExpiresAt }, 'fault injected');
  return handle;
}

// --- revert -------------------------------------------------------------------------

/**
 * Idempotent: reverting twice, or reverting a fault the watchdog already healed,
 * succeeds with alreadyReverted. Throws (retryable) when the backend cannot undo the
 * fault, leaving the lease open so the watchdog keeps trying.
 */
export async function revertFault(handle: FaultHandle, by = 'worker', opts: { force?: boolean } = {}): Promise<RevertResult> {
  const { ctx, store } = state();
  const backend = backends[handle.backend];
  if (!backend) nonRetryable(new Error(`unknown backend ${String(handle.backend)}`), `cannot revert fault ${handle.faultId}`);
  if ((handle.host ?? LOCAL_HOST) !== ctx.host) wrongHost(handle.host ?? LOCAL_HOST, `cannot revert fault ${handle.faultId} here`);
  const undo = async (): Promise<RevertResult> => {
    const lease = await store.get(handle.faultId);
    if (lease?.state === 'reverted' && !opts.force) {
      return { faultId: handle.faultId, reverted: true, alreadyReverted: true, detail: `already reverted by ${lease.revertedBy ?? '?'} at ${lease.revertedAt?.toISOString() ?? '?'}` };
    }
    let r;
    try {
      r = await backend.revert(handle, ctx);
    } catch (err) {
      await store.markRevertFailed(handle.faultId, (err as Error).message).catch(() => {});
      if (err instanceof FaultPreconditionError) nonRetryable(err, `cannot revert fault ${handle.faultId}`);
      throw new Error(`reverting ${handle.type} on ${handle.target} (${handle.backend}, fault ${handle.faultId}) failed: ${(err as Error).message}`, { cause: err });
    }
    await store.markReverted(handle.faultId, by, r.detail);
    log.info({ faultId: handle.faultId, by, alreadyReverted: r.alreadyReverted, detail: r.detail }, 'fault reverted');
    return { faultId: handle.faultId, reverted: true, alreadyReverted: r.alreadyReverted, detail: r.detail };
  };
  try {
    await store.ensureSchema();
  } catch (err) {
    if (!isUnreachable(err)) throw err;
    // Ordeal's database is unreachable: healing the system matters more than the record.
    log.warn({ faultId: handle.faultId, err: (err as Error).message }, "Ordeal's database unreachable; reverting without lease bookkeeping");
    let r;
    try {
      r = await backend.revert(handle, ctx);
    } catch (e) {
      if (e instanceof FaultPreconditionError) nonRetryable(e, `cannot revert fault ${handle.faultId}`);
      throw new Error(`reverting ${handle.type} on ${handle.target} (${handle.backend}, fault ${handle.faultId}) failed: ${(e as Error).message}`, { cause: e });
    }
    return { faultId: handle.faultId, reverted: true, alreadyReverted: r.alreadyReverted, detail: `${r.detail} (lease not updated: Ordeal's database unreachable)` };
  }
  return store.withLock(`${handle.backend}:${handle.target}`, undo);
}

export async function faultEvidence(handle: FaultHandle): Promise<FaultEvidence[]> {
  const backend = backends[handle.backend];
  const observedAt = new Date().toISOString();
  try {
    return (await backend.evidence(handle, state().ctx)).map((o) => ({ faultId: handle.faultId, observedAt, ...o }));
  } catch (err) {
    return [{ faultId: handle.faultId, observedAt, ok: false, description: `could not observe ${handle.type} on ${handle.target}: ${(err as Error).message}` }];
  }
}

// --- panic and the watchdog's sweep -------------------------------------------------------

/** Reverts this host's open faults, newest first; never throws for one fault's failure. */
export async function revertOpenFaults(by: string, opts: { expiredOnly?: boolean } = {}): Promise<{ lease: LeaseRow; result: RevertResult }[]> {
  // Another host's fault is undone on that host (a kill there restarts a process there).
  const rows = await state().store.open(opts.expiredOnly, faultHost());
  const out: { lease: LeaseRow; result: RevertResult }[] = [];
  for (const lease of rows) {
    try {
      out.push({ lease, result: await revertFault(lease.handle, by) });
    } catch (err) {
      out.push({ lease, result: { faultId: lease.faultId, reverted: false, alreadyReverted: false, error: (err as Error).message } });
    }
  }
  return out;
}

/** Open faults of every host (`host`: of that one). */
export async function listOpenFaults(host?: string): Promise<LeaseRow[]> {
  return state().store.open(false, host);
}

// --- run proxies ----------------------------------------------------------------------

/** Creates the system file's proxies for a run in Ordeal's Toxiproxy (idempotent; see proxies/). */
export async function createRunProxies(input: { runId: string; proxies: Record<string, ProxyDecl>; leaseMs: number }): Promise<RunProxy[]> {
  if (!Number.isFinite(input.leaseMs) || input.leaseMs <= 0 || input.leaseMs > MAX_LEASE_MS) {
    nonRetryable(new Error(`leaseMs must be in 1..${MAX_LEASE_MS}, got ${input.leaseMs}`), 'cannot create the run proxies');
  }
  try {
    const made = await createProxies(state().store, state().ctx.env.toxiproxyUrl, input);
    if (made.length) log.info({ runId: input.runId, proxies: made }, 'run proxies ready');
    return made;
  } catch (err) {
    if (err instanceof FaultPreconditionError) nonRetryable(err, 'cannot create the run proxies');
    throw err;
  }
}

/**
 * Keeps a live run's proxies: renews their lease every third of it (at most every
 * 5 s) and heartbeats, until the workflow cancels it (the run's end) or Temporal
 * does (the run was terminated). When nobody renews any more (the run died, or no
 * worker serves it), the lease runs out and the watchdog removes the proxies. A
 * retried attempt (a worker died) just carries on; proxies the watchdog already
 * removed are not brought back, and then there is nothing left to hold.
 */
export async function holdRunProxies(input: { runId: string; leaseMs: number }): Promise<{ renewals: number; proxies: string[] }> {
  if (!Number.isFinite(input.leaseMs) || input.leaseMs < 1000 || input.leaseMs > MAX_LEASE_MS) {
    nonRetryable(new Error(`leaseMs must be in 1000..${MAX_LEASE_MS}, got ${input.leaseMs}`), 'cannot hold the run proxies');
  }
  const activity = Context.current();
  const every = Math.min(input.leaseMs / 3, 5000);
  let renewals = 0;
  let proxies: string[] = [];
  for (;;) {
    const renewed = await state().store.renewRunProxies(input.runId, new Date(Date.now() + input.leaseMs));
    if (renewed.length === 0) {
      // Usually the run's own end, which removes them just before this activity hears of its cancellation.
      const rows = await state().store.runProxies({ runId: input.runId, all: true });
      const by = [...new Set(rows.map((r) => r.removedBy ?? '?'))];
      const fields = { runId: input.runId, held: proxies, removedBy: by };
      if (by.some((b) => b.startsWith('watchdog'))) log.warn(fields, 'run proxies removed by the watchdog while their run lived; nothing left to renew');
      else log.info(fields, 'run proxies removed; nothing left to renew');
      return { renewals, proxies };
    }
    proxies = renewed;
    renewals++;
    activity.heartbeat({ renewals, proxies });
    // Rejects with the cancellation when the run ends (or is gone): the lease then simply runs out.
    await activity.sleep(every);
  }
}

/** Removes a run's proxies (idempotent); throws (retryable) when one cannot be removed. */
export async function removeRunProxies(runId: string, by = 'worker'): Promise<string[]> {
  // Ordeal's database holds which proxies are the run's. Unreachable: a non-retryable failure after a short
  // wait (the run's end, not its proof, waits on it; the workflow notes it and the watchdog sweeps later).
  const { removed, errors } = await withOrdealDb({ url: state().ctx.env.ordealDbUrl, what: `looking up the run proxies of ${runId}`, waitMs: 5000 },
    () => removeProxiesOfRun(state().store, runId, by));
  if (errors.length) throw new Error(`could not remove run proxies of ${runId}: ${errors.join('; ')}`);
  if (removed.length) log.info({ runId, removed, by }, 'run proxies removed');
  return removed;
}

/** The watchdog's sweep of run proxies whose run died; never throws. */
export async function sweepExpiredRunProxies(by = 'watchdog'): Promise<{ removed: string[]; errors: string[] }> {
  return sweepRunProxies(state().store, by);
}

export async function panicState(): Promise<PanicState> {
  return state().store.panic();
}

/** True while `ordeal panic` is in force: no experiment may start and no fault may be injected. */
export async function isPanicked(): Promise<boolean> {
  return (await panicState()).active;
}

/** The kill switch: blocks new injections first, then reverts every open fault. */
export async function panic(reason: string): Promise<{ lease: LeaseRow; result: RevertResult }[]> {
  await state().store.setPanic(true, reason);
  log.warn({ reason }, 'ordeal panic: reverting every active fault');
  return revertOpenFaults('panic');
}

export async function clearPanic(): Promise<void> {
  await state().store.setPanic(false, null);
}

export type { FaultType };
