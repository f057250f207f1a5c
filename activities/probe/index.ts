export { probeOnce, steadyState, awaitRecovery as measureRecovery, watchUntilDown,
  type ProbeResult, type HttpProbe, type SteadyStateInput, type SteadyStateResult, type RecoveryInput,
  type RecoveryMeasurement, type WatchInput, type BreakerTrip } from './probe.ts';
export { checkSteadyState, awaitRecovery, watchHealth } from './activities.ts';
export { sampleRss } from './rss.ts';
