// Ordeal's own components, by the names a system file would give them. Plain data
// without zod, so that workflow code (the soak's default services) can read it too.

/**
 * Never faulted, even when a system file declares a service or proxy by one of
 * these names (killing them takes down the experiment's own records,
 * orchestration or safety net, not the system under test).
 */
export const protectedComponents: Record<string, string> = {
  'ordeal-db': "Ordeal's own state (fault leases, ledger)",
  watchdog: 'the fault watchdog (the safety net that reverts expired faults)',
  temporal: 'the orchestrator running the experiment',
  toxiproxy: 'the network fault proxy (use network_partition on a proxy instead)',
  prometheus: "the harness's metrics",
  worker: "Ordeal's orchestrator worker",
  'load-worker': "Ordeal's load worker",
};
