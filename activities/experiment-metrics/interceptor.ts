// Finished runs reach the metrics through a worker interceptor on the report activity:
// the workflow stays free of metric code, and a run is counted once its report is
// written (the same moment its verdict is final).
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import type { ExperimentReport } from '../report/types.ts';
import { recordReport } from './registry.ts';

export const REPORT_ACTIVITY = 'writeReports';

export const experimentMetricsInterceptor: ActivityInterceptorsFactory = (ctx) => ({
  inbound: {
    async execute(input, next) {
      const out = await next(input);
      if (ctx.info.activityType === REPORT_ACTIVITY) {
        const report = input.args[0] as ExperimentReport | undefined;
        // Metrics never fail the activity that carries them.
        try {
          if (report && typeof report.scenario === 'string' && typeof report.verdict === 'string') recordReport(report);
        } catch (err) {
          ctx.log.warn('experiment metrics: the report could not be recorded', { error: err instanceof Error ? err.message : String(err) });
        }
      }
      return out;
    },
  },
});
