// The fault timeline of one experiment: each fault injected at its `at`, held for its
// (capped) duration, then reverted; and revert-all, which heals whatever is still
// active whatever ended the run. A revert records its outcome and never throws: a
// fault that could not be reverted is Ordeal's failure (verdict ERROR), named in the
// reasons with its lease, so the stack's watchdog is the last line of defence.
import { ApplicationFailure, CancellationScope, condition, isCancellation, patched, setCurrentDetails, sleep } from '@temporalio/workflow';
import { faultQueueOf, handleQueueOf } from '../activities/faults/routing.ts';
import type { FaultSpec } from '../activities/faults/types.ts';
import type { SystemFile } from '../activities/system/schema.ts';
import type { FaultRecord } from '../activities/report/types.ts';
import { messageOf } from './failure.ts';
import { experimentActivities as acts } from './profiles.ts';
import type { ActiveFault } from './types.ts';

/** A fault's lease outlives its planned end by this much before the watchdog may revert it. */
const LEASE_GRACE_MS = 60_000;

export interface FaultLifecycleOptions {
  runId: string;
  /** Reasons the verdict FAIL/ERROR names (a failed revert). */
  failures: string[];
  /** Context for the reasons (a capped duration). */
  notes: string[];
  /** Called after every revert attempt (time to recovery counts from the last one). */
  onReverted: (at: number) => void;
  /** Load shards with no sender now (workflows/load-flow.ts): a fault waits for them. */
  stalledShards?: (now: number) => number[];
}

export class FaultLifecycle {
  /** Every injected fault, in injection order (the report's list). */
  readonly records: FaultRecord[] = [];
  /** Injected and not yet reverted, in injection order. */
  readonly active: FaultRecord[] = [];
  readonly #revertDue = new Map<string, number>();
  readonly #timelines: Promise<void>[] = [];
  readonly #options: FaultLifecycleOptions;
  #loadStartedAt = 0;
  #maxFaultDurationMs = 0;
  lastRevertAt: number | null = null;

  /** The scenario's system: what its faults act on, and which host's worker runs each (issue 11). */
  #system: SystemFile | undefined;

  /** The scope the run proxies' lease renewal lives in: the workflow's root, not the phases' (see useSystem). */
  readonly #root: CancellationScope;
  #hold: { scope: CancellationScope; done: Promise<void> } | undefined;

  constructor(options: FaultLifecycleOptions) {
    this.#options = options;
    this.#root = CancellationScope.current();
  }

  /**
   * Before the load phase: the system's declared proxies, created in Ordeal's
   * Toxiproxy for this run (idempotent), each with a lease of `leaseMs` that a
   * heartbeating activity renews while the run lives, so the watchdog removes them
   * soon after the run dies, however long a live run lasts.
   */
  async useSystem(system: SystemFile | undefined, leaseMs: number): Promise<void> {
    this.#system = system;
    if (!system || Object.keys(system.proxies).length === 0) return;
    const made = await acts.createRunProxies({ runId: this.#options.runId, proxies: system.proxies, leaseMs });
    // Adopted proxies (the embedded stack's own) carry no lease of the run: nothing to renew.
    if (!made.some((p) => p.state !== 'adopted') || !patched('run-proxy-lease-renewal')) return;
    // A child of the root scope: an abort cancels the phases, and the proxies must
    // stay through the partial proof and the reverts that follow; removeProxies ends it.
    const scope = new CancellationScope({ cancellable: true, parent: this.#root });
    const done = scope.run(() => acts.holdRunProxies.executeWithOptions(
      { summary: `renew the lease of ${made.length} run prox${made.length === 1 ? 'y' : 'ies'} (${leaseMs} ms) while the run lives` },
      [{ runId: this.#options.runId, leaseMs }],
    )).then(() => {
      // It returns by itself only when no proxy was left to renew: the watchdog took them while the run lived.
      this.#options.notes.push(`the run proxies of ${this.#options.runId} were removed by the watchdog during the run (nobody renewed their ${leaseMs} ms lease: no worker?)`);
    }, (err: unknown) => {
      if (!isCancellation(err)) this.#options.notes.push(`renewing the run proxies' lease stopped (${messageOf(err)}); the watchdog removes them when it ends`);
    });
    this.#hold = { scope, done };
  }

  /** After every revert: the run's proxies go (a no-op without any; adopted ones stay). */
  async removeProxies(): Promise<void> {
    if (!this.#system || Object.keys(this.#system.proxies).length === 0) return;
    if (this.#hold) {
      this.#hold.scope.cancel();
      await this.#hold.done;
      this.#hold = undefined;
    }
    try {
      await acts.removeRunProxies(this.#options.runId);
    } catch (err) {
      this.#options.notes.push(`run proxies of ${this.#options.runId} not removed (${messageOf(err)}); the watchdog removes them when their lease ends`);
    }
  }

  /** Starts one timeline per fault, relative to the load phase's start; resolves when all reverted. */
  start(specs: readonly FaultSpec[], o: { loadStartedAt: number; maxFaultDurationMs: number; system?: SystemFile }): Promise<void[]> {
    this.#loadStartedAt = o.loadStartedAt;
    // The scenario's system travels with each injection: only what it declares may be faulted.
    this.#system = o.system;
    this.#maxFaultDurationMs = o.maxFaultDurationMs;
    specs.forEach((spec, index) => this.#timelines.push(this.#timeline(spec, index)));
    return Promise.all(this.#timelines);
  }

  /** Lets in-flight timelines finish (an injection under way must land so it can be reverted). */
  async settled(): Promise<void> {
    await Promise.allSettled(this.#timelines);
  }

  /** A fault whose revert failed: it may still be active. */
  stuck(): FaultRecord | undefined {
    return this.records.find((rec) => rec.revert !== null && !rec.revert.reverted && !rec.revert.alreadyReverted);
  }

  activeFaults(now: number): ActiveFault[] {
    return this.active.map((rec) => ({
      faultId: rec.handle.faultId, type: rec.handle.type, target: rec.handle.target, injected_at: rec.handle.injectedAt,
      revert_due_at: new Date(this.#revertDue.get(rec.handle.faultId) ?? now).toISOString(),
    }));
  }

  /** Revert one fault and record the outcome. Safe to call twice: the second is a no-op. */
  async revert(rec: FaultRecord, why: string): Promise<void> {
    if (rec.revert !== null) return;
    const { type, target, faultId, leaseExpiresAt } = rec.handle;
    try {
      const result = await acts.revertFault.executeWithOptions({ summary: `revert ${type} on ${target} (${why})`, ...onQueue(handleQueueOf(rec.handle)) }, [rec.handle]);
      rec.revert = result;
      if (!result.reverted && !result.alreadyReverted) {
        this.#options.failures.push(`revert of fault ${faultId} (${type} on ${target}) failed: ${result.error ?? 'not reverted'}; it may still be active`);
      }
    } catch (err) {
      rec.revert = { faultId, reverted: false, alreadyReverted: false, error: messageOf(err) };
      this.#options.failures.push(`revert of fault ${faultId} (${type} on ${target}) failed: ${messageOf(err)}; it may still be active (its lease expires at ${leaseExpiresAt})`);
    }
    rec.revertedAtS = this.#loadStartedAt ? (Date.now() - this.#loadStartedAt) / 1000 : 0;
    const position = this.active.indexOf(rec);
    if (position >= 0) this.active.splice(position, 1);
    this.lastRevertAt = Date.now();
    this.#options.onReverted(this.lastRevertAt);
  }

  /** Heal every still-active fault, last injected first. */
  async revertAll(why: string): Promise<void> {
    while (this.active.length > 0) await this.revert(this.active[this.active.length - 1]!, why);
  }

  async #untilLoadFlows(index: number, what: string): Promise<void> {
    if (this.#options.stalledShards) await waitForLoad(this.#options.stalledShards, this.#options.notes, index, what);
  }

  async #timeline(spec: FaultSpec, index: number): Promise<void> {
    const { runId, notes } = this.#options;
    const maxFaultDurationMs = this.#maxFaultDurationMs;
    const what = `${spec.type} on ${spec.target}`;
    await sleep(spec.at, { summary: `fault ${index} (${what}) starts at +${spec.at} ms` });
    await this.#untilLoadFlows(index, what);
    const effective = Math.min(spec.duration, maxFaultDurationMs);
    if (effective < spec.duration) notes.push(`fault ${index} (${what}) capped at max_fault_duration ${maxFaultDurationMs} ms`);
    // Injection may not be interrupted halfway: once it started, we must learn the handle to revert it.
    const handle = await CancellationScope.nonCancellable(() => acts.injectFault.executeWithOptions(
      { summary: `inject ${what} for ${effective} ms`, ...onQueue(faultQueueOf(spec, this.#system)) },
      [{ runId, spec: { ...spec, duration: effective }, leaseMs: effective + LEASE_GRACE_MS, ...(this.#system ? { system: this.#system } : {}) }],
    )).catch((err: unknown) => {
      throw ApplicationFailure.create({ type: 'FaultInjectionFailed', nonRetryable: true,
        message: `injecting fault ${index} (${what}) failed: ${messageOf(err)}` });
    });
    // When the injection began (the activity stamps it as it starts applying the fault),
    // not when the workflow heard back: a database kill's activity also waits ~1.5 s for
    // the killed processes to be reaped, and the report placed the fault that much late.
    const rec: FaultRecord = { handle, evidence: [], revert: null, injectedAtS: (Date.parse(handle.injectedAt) - this.#loadStartedAt) / 1000, revertedAtS: null };
    this.records.push(rec);
    this.active.push(rec);
    this.#revertDue.set(handle.faultId, Date.now() + effective);
    setCurrentDetails(`**load** — ${what} active (run ${runId})`);
    try {
      rec.evidence.push(...await acts.faultEvidence.executeWithOptions({ summary: `evidence: ${what} in effect?`, ...onQueue(handleQueueOf(handle)) }, [handle]));
    } catch (err) {
      if (isCancellation(err)) throw err;
      rec.evidence.push({ faultId: handle.faultId, observedAt: new Date(Date.now()).toISOString(), description: `evidence unavailable: ${messageOf(err)}`, ok: false });
    }
    const elapsed = Date.now() - Date.parse(handle.injectedAt);
    await sleep(Math.max(1, effective - Math.max(0, elapsed)), { summary: `hold ${what}` });
    await CancellationScope.nonCancellable(() => this.revert(rec, 'fault duration elapsed'));
  }
}

/**
 * Waits, before an injection, while a load shard has no sender (its worker died and the
 * shard has not resumed): a fault nobody sends through tests nothing. Bounded by the
 * load phase: once every shard finished, the fault goes in as planned. The patch keeps
 * histories recorded before this rule replaying (they never waited).
 */
async function waitForLoad(stalled: (now: number) => number[], notes: string[], index: number, what: string): Promise<void> {
  if (stalled(Date.now()).length === 0 || !patched('fault-waits-for-load')) return;
  const t0 = Date.now();
  const shards = stalled(t0).map((s) => s + 1).join(', ');
  setCurrentDetails(`**load** — fault ${index} (${what}) waits for load shard ${shards} to resume`);
  await condition(() => stalled(Date.now()).length === 0);
  notes.push(`fault ${index} (${what}) waited ${((Date.now() - t0) / 1000).toFixed(1)} s for load shard ${shards} to resume (no load worker was sending; a fault is injected under load)`);
}

/** A fault on another host runs on that host's fault worker queue; a local one on the run's own. */
function onQueue(taskQueue: string | undefined): { taskQueue?: string } {
  return taskQueue ? { taskQueue } : {};
}
