// A run's proxies as the experiment holds them (FaultLifecycle.useSystem /
// removeProxies): created, their lease renewed while the run lives, removed at its
// end. Test-only; `holdMs` stands for the phases of a long run.
import { sleep } from '@temporalio/workflow';
import type { ProxyDecl } from '../../../activities/system/schema.ts';
import { FaultLifecycle } from '../../../workflows/fault-lifecycle.ts';

export async function runProxiesWorkflow(input: { runId: string; proxies: Record<string, ProxyDecl>; leaseMs: number; holdMs: number }): Promise<string[]> {
  const notes: string[] = [];
  const faults = new FaultLifecycle({ runId: input.runId, failures: [], notes, onReverted: () => {} });
  await faults.useSystem({ name: 'run-proxies-test', services: {}, proxies: input.proxies }, input.leaseMs);
  await sleep(input.holdMs);
  await faults.removeProxies();
  return notes;
}
