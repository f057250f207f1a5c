// What an experiment run produces, as plain data: the workflow assembles it, the
// report activity renders it (JSON, HTML, JUnit). report.json is this object.
import type { FaultEvidence, FaultHandle, RevertResult } from '../faults/types.ts';
import type { LoadSummary } from '../load/types.ts';
import type { NotificationResult } from '../notify/types.ts';
import type { ReconcileResult } from '../reconcile/types.ts';

export const verdicts = ['PASS', 'FAIL', 'ABORTED', 'ERROR'] as const;
export type Verdict = (typeof verdicts)[number];

export type Phase =
  | 'validating' | 'generating-ledger' | 'steady-state' | 'load' | 'recovery'
  | 'redelivery' | 'drain' | 'reconcile' | 'report' | 'done';

export interface FaultRecord {
  handle: FaultHandle;
  evidence: FaultEvidence[];
  revert: RevertResult | null;
  /** Seconds since the load phase started. */
  injectedAtS: number;
  revertedAtS: number | null;
}

export interface RecoveryResult {
  /** From the last revert to the first healthy probe. */
  time_to_healthy_ms: number | null;
  /** From the last revert to the first successful business request. */
  time_to_first_success_ms: number | null;
  recovered: boolean;
}

export interface ExperimentReport {
  run_id: string;
  workflow_id: string;
  scenario: string;
  verdict: Verdict;
  /** Why the verdict is what it is, one line each (failed checks, abort reason, revert errors). */
  reasons: string[];
  started_at: string;
  ended_at: string;
  phases: { phase: Phase; started_at: string; ended_at: string | null }[];
  ledger: { count: number; seed: number; totals_by_currency: Record<string, number>; json_path: string; csv_path: string } | null;
  load: LoadSummary | null;
  faults: FaultRecord[];
  recovery: RecoveryResult | null;
  redelivery: RedeliverySummary | null;
  drain: { lag_zero: boolean; waited_ms: number } | null;
  reconcile: ReconcileResult | null;
  /** Added after the reports were first written, when the run sent notifications. */
  notifications?: NotificationResult[];
  /** What the run proved. Absent in reports written before partial proofs existed. */
  proof?: ProofSummary;
}

/** Redelivery of the entries without a definitive answer; the error fields are absent in older reports. */
export interface RedeliverySummary {
  resent: number;
  acked: number;
  still_unacknowledged: number;
  /** HTTP requests sent, every attempt counted, and how many got an HTTP answer of any status. */
  requests?: number;
  answered?: number;
  /** Failed requests per error class (timeout, connection_reset, connection_refused, http_5xx, ...). */
  errors_by_class?: Record<string, number>;
  /** The same in words, most frequent first: "2,000 requests timed out after 5 s, 12 connections were reset". */
  errors?: string;
}

/**
 * full: the run ended and every ledger entry was reconciled after redelivery.
 * partial: the run was cut short (ABORTED); what was acknowledged was reconciled.
 * none: nothing was reconciled; `detail` says why.
 */
export interface ProofSummary {
  kind: 'full' | 'partial' | 'none';
  detail: string;
  /** A partial proof's numbers (the classes among them are the reconcile sources'): entries reconciled... */
  acknowledged?: number;
  /** ...entries the load never sent, and entries sent without a definitive answer: neither judged. */
  never_sent?: number;
  unanswered?: number;
}

export interface ReportPaths {
  dir: string;
  json: string;
  html: string;
  junit: string;
}

/** One pass/fail check of a run: a JUnit testcase, a row of the HTML report's checks. */
export interface ReportCheck {
  /** reconcile.<source> | thresholds | faults | recovery | verdict */
  suite: string;
  name: string;
  status: 'passed' | 'failed' | 'error' | 'skipped';
  /** Why it failed or was skipped, one line. */
  message?: string;
  /** Supporting numbers (counts, money, ids, evidence). */
  detail?: string;
  /** Seconds the checked thing took, when it has a duration (recovery). */
  seconds?: number;
}

/**
 * report.json: the report itself plus `counts` (per source, per outcome class), so a
 * pipeline can read `.counts.postgres.lost` without knowing the nested shape.
 */
export type ReportJson = ExperimentReport & {
  counts: Record<string, Record<import('../reconcile/types.ts').OutcomeClass, number>>;
  /** The money at risk projected to a day and a year at this run's rate (null: nothing at risk). */
  projection: import('./projection.ts').MoneyProjection | null;
  links: import('./links.ts').RunLinks;
  generated_at: string;
};

export interface ReportOptions {
  /** Reports go to <dir>/<run_id>/; default <ORDEAL_HOME or .ordeal>/reports (ORDEAL_REPORTS_DIR overrides). */
  dir?: string;
}
