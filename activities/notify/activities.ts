// The notification activity: after the reports are written, send every target the
// verdict triggers, record what happened in the report (rewritten in place), and
// return the failures as notes. Never throws for a delivery failure: a notification
// is news about the verdict, never a different verdict.
import pino, { type Logger } from 'pino';
import { dashboardLink, linkBases, temporalUiLink } from '../report/links.ts';
import type { ExperimentReport, ReportPaths } from '../report/types.ts';
import { writeReportTo } from '../report/write.ts';
import { defaultUrl, notificationBody, redactUrl, runNotification, targetName, targetsFor } from './format.ts';
import { postJson } from './send.ts';
import type { NotificationResult, NotifyTarget } from './types.ts';

const defaultLog = pino({ name: 'ordeal-notify' });

export interface NotifyInput {
  report: ExperimentReport;
  /** Where the reports were written (null when writing them failed: nothing is rewritten then). */
  paths: ReportPaths | null;
  targets: NotifyTarget[];
}

export interface NotifyOutput {
  results: NotificationResult[];
  /** One line per failed notification, for the report's reasons. */
  notes: string[];
}

/** Never let a secret through: the full URL and the key are replaced wherever they appear. */
function scrub(text: string, secrets: string[]): string {
  return secrets.filter((s) => s.length >= 4).reduce((t, s) => t.split(s).join('[redacted]'), text);
}

async function sendOne(t: NotifyTarget, index: number, input: NotifyInput, env: NodeJS.ProcessEnv, log: Logger): Promise<NotificationResult> {
  const name = targetName(t, index);
  const at = () => new Date().toISOString();
  const url = t.url_env ? env[t.url_env] : defaultUrl(t);
  const missing = (what: string, v: string): NotificationResult => {
    const error = `${what} ${v} is not set in the worker's environment`;
    log.warn({ run_id: input.report.run_id, target: name, format: t.format, error }, 'notification not sent');
    return { name, format: t.format, destination: '(not configured)', sent: false, attempts: 0, error, at: at() };
  };
  if (!url) return missing('environment variable', t.url_env ?? 'url');
  const key = t.routing_key_env ? env[t.routing_key_env] : undefined;
  if (t.format === 'pagerduty' && !key) return missing('routing key variable', t.routing_key_env!);
  const b = linkBases(env);
  const r = input.report;
  const body = notificationBody(t.format, runNotification(r, {
    ...(input.paths ? { report: input.paths.html } : {}), temporal_ui: temporalUiLink(r, b), dashboard: dashboardLink(r, b),
  }), key);
  const destination = redactUrl(url);
  const d = await postJson(url, body, { attempts: t.retry.attempts, backoffMs: t.retry.backoff, timeoutMs: t.timeout });
  const error = d.error === undefined ? undefined : scrub(d.error, [url, ...(key ? [key] : [])]);
  log[d.ok ? 'info' : 'warn']({ run_id: r.run_id, target: name, format: t.format, destination, attempts: d.attempts, ...(error ? { error } : {}) },
    d.ok ? 'notification sent' : 'notification failed');
  return { name, format: t.format, destination, sent: d.ok, attempts: d.attempts, ...(error ? { error } : {}), at: at() };
}

export function createNotifyActivities(env: NodeJS.ProcessEnv = process.env, log: Logger = defaultLog) {
  return {
    async notifyRun(input: NotifyInput): Promise<NotifyOutput> {
      const chosen = targetsFor(input.targets ?? [], input.report.verdict);
      if (chosen.length === 0) return { results: [], notes: [] };
      const results = await Promise.all(chosen.map((t) => sendOne(t, input.targets.indexOf(t), input, env, log)));
      const notes = results.filter((x) => !x.sent).map((x) =>
        `notification ${x.name} (${x.format} to ${x.destination}) failed after ${x.attempts} attempt(s): ${x.error ?? 'unknown error'}; the verdict stands`);
      if (input.paths) {
        writeReportTo(input.paths.dir, { ...input.report, reasons: [...input.report.reasons, ...notes], notifications: results });
      }
      return { results, notes };
    },
  };
}
