// What the live view shows, as plain data: built from the run's status query (phase,
// counts, active faults), the load worker's run-labelled series in Prometheus (the
// per-interval throughput and latency), and at the end the run's own report. The
// `report` field has the report's shape, so the page draws it with the report's chart code.
import type { ExperimentReport } from '../../activities/report/types.ts';
import { STARVED_MS } from '../../activities/load/gaps.ts';
import type { TimelinePoint } from '../../activities/load/types.ts';
import type { ExperimentStatus } from '../../workflows/types.ts';

export interface LiveFault { handle: { faultId: string; type: string; target: string }; injectedAtS: number; revertedAtS: number | null }

/** A harness gap as the charts draw it (report.load.harness_gaps' shape); `open` while the shard is still quiet. */
export interface LiveGap { shard: number; from_s: number; to_s: number; why: string; kind: 'harness_gap'; open?: boolean }

export interface LiveSnapshot {
  workflow_id: string;
  run_id: string | null;
  scenario: string | null;
  phase: string;
  done: boolean;
  verdict: string | null;
  reasons: string[];
  status: ExperimentStatus | null;
  /** Per source, per outcome class: once reconciliation finished. */
  counts: Record<string, Record<string, number>> | null;
  /** Report-shaped, for the report's chart code: the live timeline and faults, or the final report. */
  report: Pick<ExperimentReport, 'faults' | 'recovery'> & { load: { timeline: TimelinePoint[]; harness_gaps?: LiveGap[]; live_until_s?: number;
    windows?: { excluded: { from_s: number; to_s: number; why: string }[] } } | null } | Record<string, unknown>;
  report_path: string | null;
  /** Why the timeline is empty, when Prometheus did not answer. */
  timeline_note: string | null;
  updated_at: string;
}

/** Faults seen in successive status answers: open while active, closed when they disappear. */
export function trackFaults(known: Map<string, LiveFault>, status: ExperimentStatus, originMs: number, nowMs: number): LiveFault[] {
  const active = new Set(status.active_faults.map((f) => f.faultId));
  for (const f of status.active_faults) {
    if (!known.has(f.faultId)) {
      known.set(f.faultId, { handle: { faultId: f.faultId, type: f.type, target: f.target }, injectedAtS: (Date.parse(f.injected_at) - originMs) / 1000, revertedAtS: null });
    }
  }
  for (const [id, f] of known) if (!active.has(id) && f.revertedAtS === null) f.revertedAtS = (nowMs - originMs) / 1000;
  return [...known.values()];
}

/** Per shard: the last progress time it sent, and when this view first saw that value (its own clock). */
export type ShardWatch = Map<number, { lastMs: number; seenAtMs: number }>;

/**
 * The harness gaps to draw now, in seconds since `originMs`: those the shards reported
 * (closed), and one open gap per shard still running whose progress has not changed for
 * STARVED_MS by this view's clock (its worker killed, lost or starved). Quietness is
 * judged on this clock alone, so a load worker's clock skew opens no gap; the open gap
 * starts at the shard's last progress, or when this view first saw it if that is
 * earlier. When the shard reports again (a retry resumed it, or its event loop ran),
 * its own closed gap replaces the open one.
 */
export function liveGaps(watch: ShardWatch, status: ExperimentStatus, originMs: number, nowMs: number): LiveGap[] {
  const s = (ms: number) => Math.round((ms - originMs) / 100) / 10;
  const gaps: LiveGap[] = (status.harness_gaps ?? []).map((g) => ({ shard: g.shard, from_s: s(g.fromMs), to_s: s(g.toMs), why: g.why, kind: 'harness_gap' }));
  for (const sh of status.load_shards ?? []) {
    if (sh.last_progress_ms === null) continue;
    let w = watch.get(sh.shard);
    if (!w || w.lastMs !== sh.last_progress_ms) watch.set(sh.shard, w = { lastMs: sh.last_progress_ms, seenAtMs: nowMs });
    const quietMs = nowMs - w.seenAtMs;
    if (status.phase !== 'load' || sh.done || quietMs < STARVED_MS) continue;
    const from = Math.min(w.lastMs, w.seenAtMs);
    gaps.push({ shard: sh.shard, from_s: s(from), to_s: s(nowMs), kind: 'harness_gap', open: true,
      why: `harness gap (open): no progress from shard ${sh.shard + 1} for ${((nowMs - from) / 1000).toFixed(0)} s; its load worker stopped or is starved (a retry resumes the shard after the heartbeat timeout)` });
  }
  return gaps.sort((a, b) => a.from_s - b.from_s || a.shard - b.shard);
}

/** Prometheus range results ([ts, "value"] pairs per query) merged into per-step timeline points. */
export function timelineFrom(series: Record<'sent' | 'ok' | 'errors' | 'p50' | 'p95' | 'p99', [number, string][]>, originMs: number): TimelinePoint[] {
  const at = new Map<number, TimelinePoint>();
  const num = (v: string) => (Number.isFinite(Number(v)) ? Number(v) : 0);
  for (const [key, values] of Object.entries(series)) {
    for (const [ts, v] of values) {
      const t = Math.round((ts * 1000 - originMs) / 100) / 10;
      const p = at.get(ts) ?? { t, sent: 0, ok: 0, errors: 0, p50_ms: 0, p95_ms: 0, p99_ms: 0 };
      if (key === 'sent' || key === 'ok' || key === 'errors') p[key] = Math.round(num(v) * 10) / 10;
      else p[`${key as 'p50' | 'p95' | 'p99'}_ms`] = Math.round(num(v) * 1000 * 10) / 10;
      at.set(ts, p);
    }
  }
  return [...at.values()].sort((a, b) => a.t - b.t);
}

/** The live queries for one run (rates over 10 s: Prometheus scrapes every 5 s). */
export function liveQueries(runId: string): Record<'sent' | 'ok' | 'errors' | 'p50' | 'p95' | 'p99', string> {
  const sel = `run_id="${runId.replace(/["\\]/g, '')}"`;
  const q = (x: number) => `histogram_quantile(${x}, sum by (le) (rate(ordeal_load_latency_seconds_bucket{${sel}}[10s])))`;
  return {
    sent: `sum(rate(ordeal_load_requests_total{${sel}}[10s]))`,
    ok: `sum(rate(ordeal_load_requests_total{${sel},class="ok"}[10s]))`,
    errors: `sum(rate(ordeal_load_requests_total{${sel},class!="ok"}[10s])) or sum(rate(ordeal_load_requests_total{${sel}}[10s])) * 0`,
    p50: q(0.5), p95: q(0.95), p99: q(0.99),
  };
}
