// Where a run can be looked at besides its report: the Temporal UI's workflow page and
// the Grafana dashboards over the run's time range. Bases come from the environment
// (ORDEAL_TEMPORAL_UI_URL, ORDEAL_GRAFANA_URL) over the host's environment (the embedded stack's UI).
import { environment } from '../environment/index.ts';
import type { ExperimentReport } from './types.ts';

/** The dashboards under docker/grafana/dashboards, by uid. */
export const dashboards = {
  overview: { uid: 'ordeal-load-overview', title: 'Load Test Overview' },
  business: { uid: 'ordeal-business-kpis', title: 'Business KPIs' },
  health: { uid: 'ordeal-system-health', title: 'System Health' },
} as const;

export interface LinkBases {
  temporalUi: string;
  grafana: string;
  namespace?: string;
}

const trim = (u: string) => u.replace(/\/+$/, '');

export function temporalUiLink(r: Pick<ExperimentReport, 'workflow_id'>, b: LinkBases): string {
  return `${trim(b.temporalUi)}/namespaces/${encodeURIComponent(b.namespace ?? 'default')}/workflows/${encodeURIComponent(r.workflow_id)}`;
}

/** A dashboard over the run's time range (a minute either side), its variables set to the run. */
export function dashboardLink(r: Pick<ExperimentReport, 'run_id' | 'scenario' | 'started_at' | 'ended_at'>, b: LinkBases,
  which: keyof typeof dashboards = 'overview'): string {
  const from = Date.parse(r.started_at) - 60_000;
  const to = Date.parse(r.ended_at) + 60_000;
  const q = new URLSearchParams({ from: String(from), to: String(to), 'var-scenario': r.scenario, 'var-run_id': r.run_id });
  return `${trim(b.grafana)}/d/${dashboards[which].uid}?${q.toString()}`;
}

export function linkBases(env: NodeJS.ProcessEnv = process.env): LinkBases {
  const host = environment();
  const ui = env.ORDEAL_TEMPORAL_UI_URL ?? host.temporalUiUrl ?? 'http://127.0.0.1:8233';
  return { temporalUi: ui, grafana: env.ORDEAL_GRAFANA_URL ?? 'http://127.0.0.1:3000', namespace: env.ORDEAL_TEMPORAL_NAMESPACE ?? host.temporal.namespace };
}

export interface RunLinks {
  temporal_ui: string;
  dashboards: Record<keyof typeof dashboards, string>;
}

export function runLinks(r: Pick<ExperimentReport, 'run_id' | 'workflow_id' | 'scenario' | 'started_at' | 'ended_at'>, b: LinkBases = linkBases()): RunLinks {
  return {
    temporal_ui: temporalUiLink(r, b),
    dashboards: { overview: dashboardLink(r, b, 'overview'), business: dashboardLink(r, b, 'business'), health: dashboardLink(r, b, 'health') },
  };
}
