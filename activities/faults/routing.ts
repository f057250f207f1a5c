// Which fault worker runs a fault: a service declared with `host: <name>` is faulted
// on that machine, by `ordeal worker --faults --host <name>` polling task queue
// `ordeal-faults-<name>`; everything else (Ordeal's Toxiproxy, the provider's admin
// API, undeclared stack services) on the orchestrator's own queue, as before.
// Pure and free of I/O: workflows import it to pick the queue of each fault activity.
import type { SystemFile } from '../system/schema.ts';

/** system/schema.ts's LOCAL_HOST: a value import would pull zod into the workflow bundle. */
const LOCAL_HOST = 'local';

export const FAULT_TASK_QUEUE_PREFIX = 'ordeal-faults-';

/** A host name as it appears in a task queue name and in logs. */
export const HOST_NAME = /^[a-z0-9][a-z0-9_.-]{0,62}$/;

/** The host whose fault worker must inject (and revert) this fault. */
export function hostOfFault(spec: { type: string; target: string }, system: SystemFile | undefined): string {
  // Network and provider faults act on Ordeal's own Toxiproxy / the provider's admin URL.
  if (spec.type.startsWith('network_') || spec.type.startsWith('provider_')) return LOCAL_HOST;
  return system?.services[spec.target]?.host ?? LOCAL_HOST;
}

/** The task queue of a host's fault worker; undefined for the local host (the caller's own queue). */
export function faultTaskQueue(host: string | undefined): string | undefined {
  if (host === undefined || host === LOCAL_HOST) return undefined;
  if (!HOST_NAME.test(host)) throw new Error(`host "${host}" is not a valid fault host name (lowercase letters, digits, _ . -; at most 63)`);
  return FAULT_TASK_QUEUE_PREFIX + host;
}

/** The task queue for injecting a fault of a scenario; undefined: the orchestrator's. */
export function faultQueueOf(spec: { type: string; target: string }, system: SystemFile | undefined): string | undefined {
  return faultTaskQueue(hostOfFault(spec, system));
}

/** The task queue for reverting / observing an injected fault (its handle records the host). */
export function handleQueueOf(handle: { host?: string }): string | undefined {
  return faultTaskQueue(handle.host);
}
