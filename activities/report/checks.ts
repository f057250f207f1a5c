// The run's checks, derived from the report alone: what JUnit lists as testcases
// and what the HTML report tabulates. The verdict itself is the workflow's; these
// explain it line by line.
import { formatMoney } from '../reconcile/money.ts';
import { failingClassesOf, outcomeClasses } from '../reconcile/types.ts';
import type { ClassTally } from '../reconcile/types.ts';
import type { ExperimentReport, RedeliverySummary, ReportCheck } from './types.ts';

export function tallyLine(t: ClassTally): string {
  const ids = t.ids.length > 0 ? `; e.g. ${t.ids.join(', ')}${t.count > t.ids.length ? ', …' : ''}` : '';
  return `${t.count} (${formatMoney(t.money)})${ids}`;
}

export function reportChecks(r: ExperimentReport): ReportCheck[] {
  const checks: ReportCheck[] = [];

  if (r.reconcile) {
    const failing = new Set(failingClassesOf(r.reconcile.scope));
    for (const s of r.reconcile.sources) {
      const suite = `reconcile.${s.source}`;
      for (const cls of outcomeClasses) {
        const t = s.classes[cls];
        const detail = tallyLine(t);
        if (failing.has(cls)) {
          checks.push(t.count > 0
            ? { suite, name: `${cls} = 0`, status: 'failed', message: `${s.source}: ${t.count} ${cls} (${formatMoney(t.money)})`, detail }
            : { suite, name: `${cls} = 0`, status: 'passed', detail });
        } else {
          checks.push({ suite, name: cls, status: 'passed', detail });
        }
      }
    }
  } else {
    checks.push({ suite: 'reconcile', name: 'reconciliation', status: 'skipped', message: `not run (verdict ${r.verdict})` });
  }

  const thresholds = r.load?.thresholds ?? [];
  for (const t of thresholds) {
    const name = `${t.name} <= ${t.limit}`;
    const line = t.reason || `${t.name} was ${round(t.actual)}, limit ${t.limit}`;
    checks.push(t.ok
      ? { suite: 'thresholds', name, status: 'passed', detail: line }
      : { suite: 'thresholds', name, status: 'failed', message: line, detail: `actual ${round(t.actual)}` });
  }

  // Two answers for one idempotency key naming different payments: the API broke
  // its own contract, whether or not a duplicate reached a system of record.
  if (r.load) {
    const mismatches = r.load.mismatches ?? [];
    const name = 'idempotent answers (one key, one payment)';
    checks.push(mismatches.length === 0
      ? { suite: 'load', name, status: 'passed', detail: 'no idempotency key was answered with two different payments' }
      : { suite: 'load', name, status: 'failed', message: `${mismatches.length} idempotency key(s) answered with different payments`,
        detail: mismatches.slice(0, 10).map((m) => `${m.idempotency_key} (${m.pattern}): ${m.payment_ids.map((p) => p ?? 'null').join(' vs ')}`).join('\n') });
  }

  for (const f of r.faults) {
    const name = `revert ${f.handle.type} on ${f.handle.target} (${f.handle.faultId})`;
    const evidence = f.evidence.map((e) => `${e.ok ? 'ok' : 'NOT OK'} ${e.observedAt}: ${e.description}`).join('\n');
    const detail = [`injected at ${f.injectedAtS}s, reverted at ${f.revertedAtS ?? '-'}s, backend ${f.handle.backend}`, evidence].filter(Boolean).join('\n');
    if (!f.revert) checks.push({ suite: 'faults', name, status: 'error', message: `never reverted: ${f.handle.type} on ${f.handle.target} may still be active`, detail });
    else if (f.revert.error || !(f.revert.reverted || f.revert.alreadyReverted)) {
      checks.push({ suite: 'faults', name, status: 'error', message: `revert failed: ${f.revert.error ?? 'not reverted'}; ${f.handle.type} on ${f.handle.target} may still be active`, detail });
    } else checks.push({ suite: 'faults', name, status: 'passed', detail });
  }

  if (r.recovery) {
    const rec = r.recovery;
    const detail = `time to healthy ${ms(rec.time_to_healthy_ms)}, time to first success ${ms(rec.time_to_first_success_ms)}`;
    const seconds = rec.time_to_healthy_ms === null ? undefined : rec.time_to_healthy_ms / 1000;
    checks.push(rec.recovered
      ? { suite: 'recovery', name: 'system recovered after the faults', status: 'passed', detail, ...(seconds !== undefined ? { seconds } : {}) }
      : { suite: 'recovery', name: 'system recovered after the faults', status: 'failed', message: `no recovery: ${detail}`, detail });
  } else if (r.faults.length > 0) {
    checks.push({ suite: 'recovery', name: 'system recovered after the faults', status: 'skipped', message: 'recovery was not measured' });
  }

  const proof = proofCheck(r);
  if (proof) checks.push(proof);

  const reasons = r.reasons.join('; ');
  checks.push(r.verdict === 'PASS'
    ? { suite: 'verdict', name: 'verdict', status: 'passed', detail: 'PASS' }
    : { suite: 'verdict', name: 'verdict', status: r.verdict === 'FAIL' ? 'failed' : 'error', message: `${r.verdict}${reasons ? `: ${reasons}` : ''}` });
  return checks;
}

const thousands = (n: number) => n.toLocaleString('en');

/**
 * What the run proved, one line a CI reader sees: full, partial (with the failing
 * classes among the acknowledged entries per source, and what was never sent), or none
 * and why. Absent for reports written before proofs existed.
 */
export function proofLine(r: ExperimentReport): string | null {
  const p = r.proof;
  if (!p) return null;
  if (p.kind !== 'partial') return `${p.kind === 'none' ? 'no' : 'full'} proof: ${p.detail}`;
  const classes = failingClassesOf('acknowledged');
  const perSource = (r.reconcile?.sources ?? []).map((s) => `${s.source} ${classes.map((c) => `${c} ${thousands(s.classes[c].count)}`).join(', ')}`);
  return `partial proof: among the ${thousands(p.acknowledged ?? r.reconcile?.outcomes.acknowledged ?? 0)} acknowledged entries: ${perSource.join('; ') || 'no source'}; `
    + `never sent ${thousands(p.never_sent ?? 0)}, sent without a definitive answer ${thousands(p.unanswered ?? 0)} (neither judged)`;
}

/** "150 still unacknowledged: 610 requests timed out after 1 s; the system never answered" (HTML and CLI). */
export function redeliveryDetail(d: RedeliverySummary): string {
  const never = d.requests !== undefined && d.requests > 0 && d.answered === 0 ? '; the system never answered' : '';
  return `${thousands(d.still_unacknowledged)} still unacknowledged${d.errors ? `: ${d.errors}` : ''}${never}`;
}

function proofCheck(r: ExperimentReport): ReportCheck | null {
  const line = proofLine(r);
  if (!r.proof || !line) return null;
  const name = `proof (${r.proof.kind})`;
  if (r.proof.kind === 'none') return { suite: 'proof', name, status: 'skipped', message: line };
  if (r.reconcile && !r.reconcile.exactlyOnce) return { suite: 'proof', name, status: 'failed', message: line, detail: r.proof.detail };
  return { suite: 'proof', name, status: 'passed', detail: `${line}\n${r.proof.detail}` };
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}

export function ms(v: number | null | undefined): string {
  if (v === null || v === undefined) return '—';
  return v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`;
}
