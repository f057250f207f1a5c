// Notification bodies, one pure function per format. They carry what a person paged
// at night needs first: scenario, verdict, why, the counts per class and the money at
// risk, and where to look. Never a secret: the PagerDuty routing key is added by the
// sender, and the report links are local paths and dashboards.
import { formatMoney } from '../reconcile/money.ts';
import { failingClasses, outcomeClasses, type OutcomeClass } from '../reconcile/types.ts';
import type { ExperimentReport } from '../report/types.ts';
import { PAGERDUTY_EVENTS_URL, type NotifyFormat, type NotifyLinks, type NotifyTarget } from './types.ts';

/** The generic JSON body; the other formats are renderings of it. */
export interface RunNotification {
  source: 'ordeal';
  scenario: string;
  run_id: string;
  workflow_id: string;
  verdict: ExperimentReport['verdict'];
  reasons: string[];
  started_at: string;
  ended_at: string;
  /** Per system of record, per outcome class. */
  counts: Record<string, Record<OutcomeClass, number>>;
  /** Per system of record: the failing classes' money, per currency in minor units. */
  money_at_risk: Record<string, Record<string, number>>;
  /** The same, readable (e.g. `postgres: usd 12.00`); empty when nothing is at risk. */
  money_at_risk_text: string;
  links: NotifyLinks;
}

export function runNotification(r: ExperimentReport, links: NotifyLinks): RunNotification {
  const counts: RunNotification['counts'] = {};
  const money: RunNotification['money_at_risk'] = {};
  for (const s of r.reconcile?.sources ?? []) {
    counts[s.source] = Object.fromEntries(outcomeClasses.map((c) => [c, s.classes[c]?.count ?? 0])) as Record<OutcomeClass, number>;
    const m: Record<string, number> = {};
    for (const c of failingClasses) for (const [cur, v] of Object.entries(s.classes[c]?.money ?? {})) m[cur] = (m[cur] ?? 0) + v;
    money[s.source] = m;
  }
  const text = Object.entries(money).filter(([, m]) => Object.values(m).some((v) => v !== 0))
    .map(([src, m]) => `${src}: ${formatMoney(m)}`).join('; ');
  return {
    source: 'ordeal', scenario: r.scenario, run_id: r.run_id, workflow_id: r.workflow_id, verdict: r.verdict, reasons: r.reasons,
    started_at: r.started_at, ended_at: r.ended_at, counts, money_at_risk: money, money_at_risk_text: text, links,
  };
}

const headline = (n: RunNotification) => `Ordeal ${n.verdict}: ${n.scenario} (run ${n.run_id})`;

function failingCounts(n: RunNotification): string[] {
  return Object.entries(n.counts).map(([src, c]) => {
    const bad = failingClasses.filter((k) => c[k] > 0).map((k) => `${c[k]} ${k}`);
    return `${src}: ${c.ok} ok${bad.length ? `, ${bad.join(', ')}` : ''}`;
  });
}

/** Slack incoming-webhook message (also understood by Mattermost, Rocket.Chat, Discord's /slack). */
export function slackBody(n: RunNotification): { text: string; blocks: unknown[] } {
  const lines = [
    `*${headline(n)}*`,
    ...n.reasons.slice(0, 10).map((x) => `• ${x}`),
    ...(n.reasons.length > 10 ? [`• … and ${n.reasons.length - 10} more`] : []),
    ...failingCounts(n).map((x) => `> ${x}`),
    ...(n.money_at_risk_text ? [`Money at risk: ${n.money_at_risk_text}`] : []),
  ];
  const links = [
    ...(n.links.temporal_ui ? [`<${n.links.temporal_ui}|Temporal UI>`] : []),
    ...(n.links.dashboard ? [`<${n.links.dashboard}|dashboard>`] : []),
    ...(n.links.report ? [`report: \`${n.links.report}\``] : []),
  ];
  const text = [...lines, ...(links.length ? [links.join(' · ')] : [])].join('\n');
  return { text, blocks: [{ type: 'section', text: { type: 'mrkdwn', text } }] };
}

/** PagerDuty Events API v2 `trigger` event; one incident per run (dedup_key), deduplicated across retries. */
export function pagerDutyBody(n: RunNotification, routingKey: string): Record<string, unknown> {
  const summary = `${headline(n)}${n.reasons[0] ? ` — ${n.reasons[0]}` : ''}`;
  return {
    routing_key: routingKey,
    event_action: 'trigger',
    dedup_key: `ordeal-${n.run_id}`,
    payload: {
      summary: summary.length > 1024 ? `${summary.slice(0, 1023)}…` : summary,
      source: 'ordeal',
      severity: n.verdict === 'ERROR' ? 'error' : n.verdict === 'ABORTED' ? 'warning' : 'critical',
      component: n.scenario,
      group: 'chaos-experiments',
      class: n.verdict,
      timestamp: n.ended_at,
      custom_details: {
        scenario: n.scenario, run_id: n.run_id, workflow_id: n.workflow_id, verdict: n.verdict, reasons: n.reasons,
        counts: n.counts, money_at_risk: n.money_at_risk, money_at_risk_text: n.money_at_risk_text, report: n.links.report,
      },
    },
    links: [
      ...(n.links.temporal_ui ? [{ href: n.links.temporal_ui, text: 'Temporal UI' }] : []),
      ...(n.links.dashboard ? [{ href: n.links.dashboard, text: 'Grafana dashboard' }] : []),
    ],
  };
}

/** The body for one target; `routingKey` only for pagerduty. */
export function notificationBody(format: NotifyFormat, n: RunNotification, routingKey?: string): unknown {
  if (format === 'slack') return slackBody(n);
  if (format === 'pagerduty') return pagerDutyBody(n, routingKey ?? '');
  return n;
}

/** Which targets a verdict triggers. */
export function targetsFor(targets: readonly NotifyTarget[], verdict: ExperimentReport['verdict']): NotifyTarget[] {
  return targets.filter((t) => t.on.includes(verdict));
}

export const targetName = (t: NotifyTarget, index: number): string => t.name ?? `${t.format}-${index + 1}`;

/** scheme://host/… : webhook paths carry tokens, so reports and logs show only where a notification went. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname !== '/' || u.search ? '/…' : '/'}`;
  } catch {
    return '(unparseable URL)';
  }
}

export const defaultUrl = (t: NotifyTarget): string | undefined => t.url ?? (t.format === 'pagerduty' && !t.url_env ? PAGERDUTY_EVENTS_URL : undefined);
