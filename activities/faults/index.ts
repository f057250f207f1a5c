// Faults, Jepsen-style: each fault package bundles its own heal. Inject returns a
// plain-data handle that any process can revert; every fault carries a lease that
// the stack's watchdog enforces; `ordeal panic` reverts everything.
import { faultEvidence, injectFault, isPanicked, revertFault, validateFaultTargets } from './engine.ts';
import type { SystemFile } from '../system/schema.ts';
import type { FaultEvidence, FaultHandle, InjectFaultInput, RevertResult, FaultValidationIssue } from './types.ts';

/** The activities a worker registers (proxyActivities<typeof faultActivities> in workflows). */
export const faultActivities = {
  injectFault: (input: InjectFaultInput): Promise<FaultHandle> => injectFault(input),
  revertFault: (handle: FaultHandle): Promise<RevertResult> => revertFault(handle, 'worker'),
  faultEvidence: (handle: FaultHandle): Promise<FaultEvidence[]> => faultEvidence(handle),
  validateFaultTargets: (specs: unknown[], system?: SystemFile): Promise<FaultValidationIssue[]> => validateFaultTargets(specs, system ? { system } : {}),
  isPanicked: (): Promise<boolean> => isPanicked(),
};

export {
  injectFault, revertFault, faultEvidence, validateFaultTargets, isPanicked,
  panic, clearPanic, panicState, listOpenFaults, revertOpenFaults, closeFaults, backendOf, faultStore,
} from './engine.ts';
export { ensureFaultVolume, faultVolumePath, removeFaultVolume } from './host/index.ts';
export { dockerSocket, TARGET_LABEL as DOCKER_TARGET_LABEL } from './docker/index.ts';
export type { LeaseRow, PanicState } from './leases.ts';
export * from './types.ts';
