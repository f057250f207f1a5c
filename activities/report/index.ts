// Reports of a run: report.json (the report plus counts), report.html (self-contained,
// charts included) and junit.xml (one testcase per check) for CI systems.
import { createReportActivities } from './write.ts';

export const reportActivities = createReportActivities();
export { createReportActivities, reportJson, reportsDir, writeReportTo } from './write.ts';
export { moneyProjection, type MoneyProjection } from './projection.ts';
export { dashboardLink, dashboards, linkBases, runLinks, temporalUiLink } from './links.ts';
export { proofLine, redeliveryDetail, reportChecks } from './checks.ts';
export { junitXml } from './junit.ts';
export { reportHtml } from './html.ts';
export * from './types.ts';
