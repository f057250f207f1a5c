// The live view in real headless Chromium against a running experiment on the stack:
// the charts grow while the load runs, a harness gap opens and closes while the load
// worker is stopped, a fault band appears with the fault, the page's own polling
// redraws it, and the verdict and outcome counts show at the end. The last
// screenshot is kept as a test artifact (path printed).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { OrdealClient } from '../../scripts/client/index.ts';
import { repoRoot } from '../../scripts/stack/config.ts';
import { startLiveView, type LiveView } from '../../scripts/live/server.ts';
import type { LiveGap, LiveSnapshot } from '../../scripts/live/state.ts';
import { isOurProcessAlive, readPidFile } from '../../scripts/stack/process.ts';
import { pidFileOf } from '../../scripts/stack/system-file.ts';
import { config, shortDbKill, until } from '../experiment/harness.ts';
import { countColor, dumpDom, screenshot } from '../report/browser.ts';

const artifacts = process.env.ORDEAL_TEST_ARTIFACTS ?? join(repoRoot, '.ordeal', 'test-artifacts');
const attr = (dom: string, name: string) => new RegExp(`<body[^>]* ${name}="([^"]*)"`).exec(dom)?.[1];

let ordeal: OrdealClient;
let view: LiveView | undefined;
before(async () => { ordeal = await OrdealClient.connect({ config }); });
after(async () => { await view?.close(); await ordeal?.close(); });

void test('the live view shows a running experiment: charts grow, a harness gap and a fault band appear, the verdict shows', async () => {
  const h = await ordeal.start({ scenario: 'db_failure_peak_load', overrides: [...shortDbKill,
    'ledger.messages=2500', 'load.duration=25s', 'faults.0.at=8s', 'faults.0.duration=12s'] });
  view = await startLiveView({ handle: h, prometheusUrl: `http://127.0.0.1:${config.ports.prometheus}` });
  const state = async () => (await (await fetch(`${view!.url}state`)).json()) as LiveSnapshot;
  const points = (s: LiveSnapshot) => ((s.report as { load?: { timeline?: unknown[] } }).load?.timeline ?? []).length;

  // 1. A harness gap as it opens and closes, early in the load (before the fault, so its band is
  // nobody else's): the stack's load worker stopped (SIGSTOP) for about 4 s, inside the shards'
  // 20 s heartbeat timeout. While it is quiet the view opens a gap for its shards; once it runs
  // again, the shard's own gap (starved) replaces it.
  const loadWorker = readPidFile(pidFileOf(config, 'load-worker'));
  assert.ok(loadWorker && isOurProcessAlive(loadWorker), 'the stack\'s load worker is running');
  const gapsOf = (s: LiveSnapshot) => ((s.report as { load?: { harness_gaps?: LiveGap[] } }).load?.harness_gaps ?? []);
  await until('a load shard reporting', async () => { const s = await state(); return s.phase === 'load' && (s.status?.load_shards ?? []).some((x) => x.last_progress_ms !== null); }, 90_000, 250);
  process.kill(loadWorker.pid, 'SIGSTOP');
  let opened: LiveGap;
  try {
    // Held until the open gap is 4 s long: past the shard's own 3 s starvation threshold, so it records its gap.
    opened = await until('an open harness gap while the load worker is stopped', async () =>
      gapsOf(await state()).find((g) => g.open && g.to_s - g.from_s >= 4), 15_000, 250);
  } finally {
    process.kill(loadWorker.pid, 'SIGCONT');
  }
  assert.match(opened.why, /^harness gap \(open\): no progress from shard \d+ for \d+ s/);
  const closed = await until('the shard\'s own gap', async () => {
    const g = gapsOf(await state());
    return g.length > 0 && g.every((x) => !x.open) ? g : null;
  }, 30_000, 250);
  // Starved, as a rule; resumed if the stop outlasted the last throttled heartbeat's 20 s timeout (heartbeats go out every 16 s).
  const ownGap = /^harness gap: (shard \d+'s load worker was starved for [\d.]+ s|no load worker sent for shard \d+ for [\d.]+ s)/;
  assert.ok(closed.some((g) => ownGap.test(g.why)), JSON.stringify(closed));
  assert.ok(Math.min(...closed.map((g) => g.from_s)) <= opened.from_s + 1, `the closed gap starts where the open one did: ${JSON.stringify({ opened, closed })}`);

  // 2. Load running, before the fault: a timeline with a few points on both charts, and the gap's band.
  await until('a live timeline during the load', async () => { const s = await state(); return s.phase === 'load' && points(s) >= 2; }, 90_000, 500);
  const early = await dumpDom(view.url);
  assert.equal(attr(early, 'data-charts-error'), undefined, 'no chart error');
  assert.equal(attr(early, 'data-charts-rendered'), '2');
  assert.equal(attr(early, 'data-phase'), 'load');
  const n1 = Number(attr(early, 'data-timeline-points'));
  assert.ok(n1 >= 2, `early points: ${n1}`);
  assert.ok(Number(attr(early, 'data-updates')) >= 1, 'the page polled /state and redrew');
  assert.equal(attr(early, 'data-done'), 'false', 'the gap shows while the run goes on');
  assert.ok(Number(attr(early, 'data-gap-bands')) >= 1, 'a harness gap band on the charts');
  assert.match(early, /<div class="gap closed">harness gap · shard \d+ · \+[\d.]+ s → \+[\d.]+ s/);
  mkdirSync(artifacts, { recursive: true });
  const gapShot = await screenshot(view.url, join(artifacts, 'live-view-gap.png'), '1280,1400');
  // The report's harness gap colour: rgba(130, 80, 223, 0.18) over white (test/report/report.test.ts).
  const livePurple = countColor(gapShot, [232, 224, 249], 5);
  assert.ok(livePurple > 2000, `the live gap band is the report's purple: ${livePurple} px`);

  // 3. The fault: its band is on the charts, and the timeline has grown. (On a busy machine a
  // browser run takes seconds, so the fault may already be reverted: its band stays.)
  const faultsSeen = (s: LiveSnapshot) => ((s.report as { faults?: unknown[] }).faults ?? []).length;
  await until('the fault in the live view', async () => faultsSeen(await state()) > 0, 90_000, 500);
  await until('the timeline to grow', async () => points(await state()) > n1, 30_000, 500);
  const during = await dumpDom(view.url);
  assert.equal(attr(during, 'data-done'), 'false');
  assert.ok(Number(attr(during, 'data-fault-bands')) >= 1, 'a fault band');
  assert.match(during, /database_kill on postgres · \+[\d.]+ s( · <b>active<\/b>| → \+[\d.]+ s)/);
  const n2 = Number(attr(during, 'data-timeline-points'));
  assert.ok(n2 > n1, `the charts grew: ${n1} → ${n2} points`);

  // 4. The end: the verdict, the outcome counts, the report's own timeline and bands.
  const last = await view.done;
  const r = await h.result();
  assert.equal(last.verdict, r.verdict);
  const end = await dumpDom(view.url);
  assert.equal(attr(end, 'data-verdict'), r.verdict);
  assert.equal(attr(end, 'data-done'), 'true');
  assert.equal(attr(end, 'data-counts'), 'yes');
  assert.equal(attr(end, 'data-charts-rendered'), '2');
  assert.equal(Number(attr(end, 'data-timeline-points')), r.report.load!.timeline.length);
  assert.equal(attr(end, 'data-fault-bands'), '1');
  assert.equal(Number(attr(end, 'data-excluded-bands')), (r.report.load!.windows?.excluded ?? []).filter((e) => e.kind !== 'harness_gap').length);
  // The stop is in the report too: a harness gap, drawn in its own band, named in the reasons, not the verdict's cause.
  const reportGaps = r.report.load!.harness_gaps ?? [];
  assert.ok(reportGaps.some((g) => ownGap.test(g.why)), JSON.stringify(reportGaps));
  assert.equal(Number(attr(end, 'data-gap-bands')), reportGaps.length);
  assert.ok(r.reasons.some((x) => /^harness gap: .*left out of the thresholds$/.test(x)), r.reasons.join('\n'));
  assert.match(end, new RegExp(`<div class="badge" id="verdict"[^>]*>${r.verdict}</div>`));
  const c = r.report.load!.counts;
  assert.match(end, new RegExp(`<div class="value" id="sent">${c.sent} / ${c.acked}</div>`), 'the cards show the report\'s counts at the end');
  assert.match(end, new RegExp(`<td>postgres</td><td class="n">${r.report.ledger!.count}</td>`));

  const png = join(artifacts, 'live-view.png');
  const shot = await screenshot(view.url, png, '1280,1400');
  // The red fault band and the verdict badge's colour are in the picture.
  assert.ok(countColor(shot, r.verdict === 'PASS' ? [26, 127, 55] : [207, 34, 46], 8) > 500, 'the verdict badge is drawn');
  console.log(`live view screenshot: ${png} (${r.verdict}, ${n1} → ${n2} live points, ${r.report.load!.timeline.length} in the report; `
    + `gap opened live at +${opened.from_s} s (${livePurple} purple px live), report gaps ${JSON.stringify(reportGaps.map((g) => [g.from_s, g.to_s]))})`);
});
