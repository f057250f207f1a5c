// Notifications of a finished run (`notify:` in the scenario): generic JSON,
// Slack-compatible, PagerDuty Events v2; sent after the reports, never changing a verdict.
import { createNotifyActivities } from './activities.ts';

export const notifyActivities = createNotifyActivities();
export { createNotifyActivities, type NotifyInput, type NotifyOutput } from './activities.ts';
export { notifyEnvProblems, type NotifyEnvProblem } from './env.ts';
export { notificationBody, pagerDutyBody, redactUrl, runNotification, slackBody, targetsFor, type RunNotification } from './format.ts';
export * from './types.ts';
