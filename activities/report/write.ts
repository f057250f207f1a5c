// The report activity: report.json, report.html and junit.xml for a run, in
// <reports dir>/<run_id>/. Each file is written whole and renamed into place, so a
// retried activity or a reader never sees half a report.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { environment } from '../environment/index.ts';
import type { OutcomeClass } from '../reconcile/types.ts';
import { reportChecks } from './checks.ts';
import { reportHtml } from './html.ts';
import { junitXml } from './junit.ts';
import { runLinks } from './links.ts';
import { moneyProjection } from './projection.ts';
import type { ExperimentReport, ReportJson, ReportOptions, ReportPaths } from './types.ts';

export function reportsDir(opts: ReportOptions = {}): string {
  return resolve(opts.dir ?? environment().reportsDir);
}

export function reportJson(r: ExperimentReport): ReportJson {
  const counts: Record<string, Record<OutcomeClass, number>> = {};
  for (const s of r.reconcile?.sources ?? []) {
    counts[s.source] = Object.fromEntries(Object.entries(s.classes).map(([c, t]) => [c, t.count])) as Record<OutcomeClass, number>;
  }
  return { ...r, counts, projection: moneyProjection(r), links: runLinks(r), generated_at: new Date().toISOString() };
}

function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/** Writes (or rewrites, e.g. with the notifications' outcome) a run's three reports into `dir`. */
export function writeReportTo(dir: string, report: ExperimentReport): ReportPaths {
  mkdirSync(dir, { recursive: true });
  const paths: ReportPaths = { dir, json: join(dir, 'report.json'), html: join(dir, 'report.html'), junit: join(dir, 'junit.xml') };
  const checks = reportChecks(report);
  writeAtomic(paths.json, `${JSON.stringify(reportJson(report), null, 2)}\n`);
  writeAtomic(paths.junit, junitXml(report, checks));
  writeAtomic(paths.html, reportHtml(report, checks));
  return paths;
}

export function createReportActivities(opts: ReportOptions = {}) {
  return {
    async writeReports(report: ExperimentReport): Promise<ReportPaths> {
      if (!report || typeof report.run_id !== 'string' || !/^[A-Za-z0-9_.:-]+$/.test(report.run_id) || /^\.+$/.test(report.run_id)) {
        throw ApplicationFailure.nonRetryable(
          `report.run_id must be a plain name (letters, digits, _ . : -) to become a directory; got ${JSON.stringify(report?.run_id)}`,
          'ReportInputError');
      }
      return writeReportTo(join(reportsDir(opts), report.run_id), report);
    },
  };
}
