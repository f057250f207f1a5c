// Faults, Jepsen-style: each fault package bundles its own heal. Inject returns a
// plain-data handle that any process can revert; every fault carries a lease that
// the stack's watchdog enforces; `ordeal panic` reverts everything.
import { createRunProxies, faultEvidence, holdRunProxies, injectFault, isPanicked, removeRunProxies, revertFault, validateFaultTargets } from './engine.ts';
import { heartbeating } from '../liveness/index.ts';
import type { RunProxy } from './proxies/index.ts';
import type { ProxyDecl, SystemFile } from '../system/schema.ts';
import type { FaultEvidence, FaultHandle, InjectFaultInput, RevertResult, FaultValidationIssue } from './types.ts';

/** The activities a worker registers (proxyActivities<typeof faultActivities> in workflows). */
export const faultActivities = {
  injectFault: (input: InjectFaultInput): Promise<FaultHandle> => heartbeating(() => injectFault(input)),
  revertFault: (handle: FaultHandle): Promise<RevertResult> => heartbeating(() => revertFault(handle, 'worker')),
  faultEvidence: (handle: FaultHandle): Promise<FaultEvidence[]> => heartbeating(() => faultEvidence(handle)),
  validateFaultTargets: (specs: unknown[], system?: SystemFile): Promise<FaultValidationIssue[]> => validateFaultTargets(specs, system ? { system } : {}),
  isPanicked: (): Promise<boolean> => isPanicked(),
  /** At run start: the system file's proxies in Ordeal's Toxiproxy (idempotent, leased). */
  createRunProxies: (input: { runId: string; proxies: Record<string, ProxyDecl>; leaseMs: number }): Promise<RunProxy[]> => heartbeating(() => createRunProxies(input)),
  /** While the run lives: renews the run proxies' lease (heartbeating) until cancelled. */
  holdRunProxies: (input: { runId: string; leaseMs: number }): Promise<{ renewals: number; proxies: string[] }> => holdRunProxies(input),
  /** At run end (always, like a revert): the run's proxies removed (idempotent). */
  removeRunProxies: (runId: string): Promise<string[]> => heartbeating(() => removeRunProxies(runId, 'worker')),
};

export {
  injectFault, revertFault, faultEvidence, validateFaultTargets, isPanicked,
  panic, clearPanic, panicState, listOpenFaults, revertOpenFaults, closeFaults, backendOf, faultStore,
  createRunProxies, holdRunProxies, removeRunProxies, sweepExpiredRunProxies, faultHost,
} from './engine.ts';
export { faultQueueOf, faultTaskQueue, handleQueueOf, hostOfFault, FAULT_TASK_QUEUE_PREFIX, HOST_NAME } from './routing.ts';
export { runProxyName, type RunProxy } from './proxies/index.ts';
export { startWatchdog, type Watchdog } from './watchdog.ts';
export { ensureFaultVolume, faultVolumePath, removeFaultVolume } from './host/index.ts';
export { dockerServiceState, dockerSocket } from './docker/index.ts';
export type { LeaseRow, PanicState, RunProxyRow } from './leases.ts';
export * from './types.ts';
