// The small interface every fault backend implements. A backend knows how to put
// one kind of fault in effect, prove it is in effect, and undo it from nothing but
// the handle's plain data — in any process, possibly long after the injector died.
import type { OrdealEnvironment } from '../environment/index.ts';
import type { SystemFile } from '../system/schema.ts';
import type { FaultBackendName, FaultHandle, FaultSpec, FaultType } from './types.ts';

export type RevertData = FaultHandle['revert'];

export interface FaultContext {
  /** Ordeal's infrastructure and this machine's state dir, from the host. */
  env: OrdealEnvironment;
  /** The fault host this process serves ('local' unless `ordeal worker --faults --host`). */
  host: string;
  /**
   * What may be faulted: the scenario's system (inject, validate). Revert and
   * evidence read the handle, which carries its target's declaration.
   */
  system: SystemFile;
  /** The experiment run injecting (run proxies are named after it). */
  runId?: string;
}

export interface Observation {
  description: string;
  /** True when the observation shows the fault in effect. */
  ok: boolean;
}

export interface BackendRevert {
  /** Nothing was left to undo: someone (a worker, the watchdog, a restart) healed it already. */
  alreadyReverted: boolean;
  detail: string;
}

export interface FaultBackend {
  readonly name: FaultBackendName;
  readonly types: readonly FaultType[];
  /** Problems with the spec that can be seen without touching anything (unknown target, bad params). */
  check(spec: FaultSpec, ctx: FaultContext): string[];
  /** Read-only checks that need the backend itself (engine reachable, container exists). */
  probe?(spec: FaultSpec, ctx: FaultContext): Promise<string[]>;
  /**
   * Everything revert needs, computed before anything is touched, so that the lease
   * records how to undo the fault even when the injector dies half-way through.
   */
  plan(spec: FaultSpec, faultId: string, ctx: FaultContext, leaseExpiresAt: Date): Promise<RevertData>;
  /** Puts the fault in effect; may return revert data learnt while doing it (merged into the handle). */
  inject(handle: FaultHandle, spec: FaultSpec, ctx: FaultContext): Promise<RevertData | void>;
  /** Idempotent: undoing an already-undone (or never-applied) fault succeeds with alreadyReverted. */
  revert(handle: FaultHandle, ctx: FaultContext): Promise<BackendRevert>;
  evidence(handle: FaultHandle, ctx: FaultContext): Promise<Observation[]>;
}

/** A non-retryable precondition problem (unknown target, target not running, bad params). */
export class FaultPreconditionError extends Error {
  override name = 'FaultPreconditionError';
}

export function num(params: FaultSpec['params'], key: string, fallback: number, min: number, max: number): number {
  const raw = params[key];
  if (raw === undefined) return fallback;
  const n = typeof raw === 'number' ? raw : Number(raw);
  if (!Number.isFinite(n) || n < min || n > max) {
    throw new FaultPreconditionError(`params.${key} must be a number in ${min}..${max}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

/** Params checking for check(): returns the error message instead of throwing. */
/** A param rule: a number range, a list of allowed values, or 'text' (checked by the caller). */
export type ParamRule = [min: number, max: number] | readonly string[] | 'text';

export function paramProblems(spec: FaultSpec, known: Record<string, ParamRule>): string[] {
  const problems: string[] = [];
  for (const [key, value] of Object.entries(spec.params)) {
    const rule = known[key];
    if (rule === 'text') continue;
    if (!rule) {
      problems.push(`params.${key} is not a parameter of ${spec.type} (known: ${Object.keys(known).join(', ') || 'none'})`);
    } else if (typeof rule[0] === 'number') {
      const [min, max] = rule as [number, number];
      const n = typeof value === 'number' ? value : Number(value);
      if (typeof value === 'boolean' || !Number.isFinite(n) || n < min || n > max) {
        problems.push(`params.${key} must be a number in ${min}..${max}, got ${JSON.stringify(value)}`);
      }
    } else if (!(rule as readonly string[]).includes(String(value))) {
      problems.push(`params.${key} must be one of ${(rule as readonly string[]).join(', ')}, got ${JSON.stringify(value)}`);
    }
  }
  return problems;
}
