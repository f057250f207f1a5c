// Experiment metrics of the orchestrator worker (docs/observability.md): finished runs
// via an activity interceptor, running experiments via their status query at scrape time.
export { experimentRegistry, excludedReason, recordReport } from './registry.ts';
export { observeRunningExperiments } from './running.ts';
export { experimentMetricsInterceptor, REPORT_ACTIVITY } from './interceptor.ts';
