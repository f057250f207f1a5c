// `ordeal watch <workflowId> --web`: a local page that shows a run as it happens. A
// sampler reads the status query (phase, counts, faults, harness gaps) and the run's
// load series from Prometheus once a second; the page polls /state and redraws with
// the report's own chart code. When the run closes, its report (timeline, fault,
// excluded and harness gap bands, outcome counts, verdict) replaces the live picture.
// Loopback only.
import { createServer, type Server } from 'node:http';
import pino from 'pino';
import { request } from 'undici';
import type { TimelinePoint } from '../../activities/load/types.ts';
import type { ExperimentHandle } from '../client/index.ts';
import type { ExperimentStatus } from '../../workflows/types.ts';
import { livePage } from './page.ts';
import { liveGaps, liveQueries, timelineFrom, trackFaults, type LiveFault, type LiveSnapshot, type ShardWatch } from './state.ts';

const log = pino({ name: 'ordeal-live' });

export interface LiveViewOptions {
  handle: Pick<ExperimentHandle, 'workflowId' | 'status' | 'describe' | 'result'>;
  /** The stack's Prometheus (the load worker's run-labelled series). */
  prometheusUrl: string;
  /** 0: any free port. */
  port?: number;
  intervalMs?: number;
}

export interface LiveView {
  url: string;
  /** The last snapshot, once the run closed. */
  done: Promise<LiveSnapshot>;
  close(): Promise<void>;
}

async function promRange(base: string, query: string, startS: number, endS: number): Promise<[number, string][]> {
  const q = new URLSearchParams({ query, start: String(startS), end: String(endS), step: '2' });
  const res = await request(`${base}/api/v1/query_range?${q}`, { headersTimeout: 3000, bodyTimeout: 3000 });
  const body = await res.body.json() as { status: string; error?: string; data?: { result: { values: [number, string][] }[] } };
  if (res.statusCode !== 200 || body.status !== 'success') throw new Error(`Prometheus answered ${res.statusCode}: ${body.error ?? 'no data'}`);
  return body.data?.result[0]?.values ?? [];
}

export async function startLiveView(o: LiveViewOptions): Promise<LiveView> {
  const faults = new Map<string, LiveFault>();
  const shards: ShardWatch = new Map();
  let timeline: TimelinePoint[] = [];
  let snap: LiveSnapshot = {
    workflow_id: o.handle.workflowId, run_id: null, scenario: null, phase: 'starting', done: false, verdict: null, reasons: [],
    status: null, counts: null, report: { load: null, faults: [], recovery: null }, report_path: null, timeline_note: null,
    updated_at: new Date().toISOString(),
  };
  let finish!: (s: LiveSnapshot) => void;
  const done = new Promise<LiveSnapshot>((r) => { finish = r; });

  const sample = async (): Promise<boolean> => {
    const d = await o.handle.describe();
    if (d.closed) {
      const r = await o.handle.result().catch((err: unknown) => ({ error: err instanceof Error ? err.message : String(err) }));
      if ('error' in r) {
        snap = { ...snap, done: true, phase: 'done', verdict: d.status, reasons: [r.error], updated_at: new Date().toISOString() };
      } else {
        const counts: Record<string, Record<string, number>> = {};
        for (const s of r.report.reconcile?.sources ?? []) counts[s.source] = Object.fromEntries(Object.entries(s.classes).map(([c, t]) => [c, t.count]));
        const { timeline: _t, ...load } = r.report.load ?? { timeline: [] };
        snap = {
          ...snap, done: true, phase: 'done', verdict: r.verdict, status: null, reasons: r.reasons, run_id: r.run_id, scenario: r.scenario,
          counts: r.report.reconcile ? counts : null, report_path: r.paths?.html ?? null, updated_at: new Date().toISOString(),
          // The report's own timeline (per second, per-second histograms dropped) and bands.
          report: { ...r.report, load: r.report.load ? { ...load, timeline: r.report.load.timeline.map(({ hist: _h, ...p }) => p) } : null },
        };
      }
      return true;
    }
    const status: ExperimentStatus = await o.handle.status();
    const origin = Date.parse(status.started_at);
    const now = Date.now();
    const tracked = trackFaults(faults, status, origin, now);
    const gaps = liveGaps(shards, status, origin, now);
    let note: string | null = null;
    try {
      const qs = liveQueries(status.run_id);
      const entries = await Promise.all(Object.entries(qs).map(async ([k, q]) => [k, await promRange(o.prometheusUrl, q, origin / 1000, now / 1000)] as const));
      timeline = timelineFrom(Object.fromEntries(entries) as Parameters<typeof timelineFrom>[0], origin);
    } catch (err) {
      // The last timeline stays on the page.
      note = `no live timeline: Prometheus at ${o.prometheusUrl} did not answer (${err instanceof Error ? err.message : String(err)})`;
    }
    snap = {
      ...snap, run_id: status.run_id, scenario: status.scenario, phase: status.phase, status, verdict: status.verdict,
      report: { load: { timeline, harness_gaps: gaps, live_until_s: (now - origin) / 1000 }, faults: tracked, recovery: null }, timeline_note: note, updated_at: new Date().toISOString(),
    };
    return false;
  };

  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const loop = async () => {
    try {
      if (await sample()) { finish(snap); return; }
    } catch (err) {
      log.warn({ err: err instanceof Error ? err.message : String(err), workflowId: o.handle.workflowId }, 'live view sample failed; retrying');
    }
    if (!stopped) timer = setTimeout(() => { void loop(); }, o.intervalMs ?? 1000);
  };
  await loop();

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/state') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(snap));
    } else if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(livePage(snap));
    } else res.writeHead(404).end('not found');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, '127.0.0.1', () => resolve());
  });
  const a = server.address();
  const url = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}/`;
  return {
    url, done,
    close: async () => {
      stopped = true;
      clearTimeout(timer);
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
