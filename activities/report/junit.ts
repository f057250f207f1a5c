// JUnit XML for CI systems: one testsuite per check suite, one testcase per check.
import type { ExperimentReport, ReportCheck } from './types.ts';
import { reportChecks } from './checks.ts';

// XML 1.0 cannot carry most control characters, even escaped.
const invalidXml = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g;

export function xmlEscape(s: string): string {
  return s.replace(invalidXml, '\ufffd').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** The proof for machines: its kind, and a partial proof's numbers (the classes are in the reconcile suites). */
function proofProperties(r: ExperimentReport): [string, string][] {
  if (!r.proof) return [];
  const numbers = r.proof.kind === 'partial'
    ? [['proof_acknowledged', r.proof.acknowledged], ['proof_never_sent', r.proof.never_sent], ['proof_unanswered', r.proof.unanswered]] as const : [];
  return [['proof', r.proof.kind], ...numbers.filter(([, n]) => n !== undefined).map(([k, n]): [string, string] => [k, String(n)])];
}

export function junitXml(r: ExperimentReport, checks: ReportCheck[] = reportChecks(r)): string {
  const suites = new Map<string, ReportCheck[]>();
  for (const c of checks) suites.set(c.suite, [...(suites.get(c.suite) ?? []), c]);
  const count = (list: ReportCheck[], s: ReportCheck['status']) => list.filter((c) => c.status === s).length;
  const totalSeconds = Math.max(0, (Date.parse(r.ended_at) - Date.parse(r.started_at)) / 1000) || 0;
  const prefix = `ordeal.${r.scenario}`;
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${xmlEscape(`ordeal ${r.scenario} ${r.run_id}`)}" tests="${checks.length}" failures="${count(checks, 'failed')}" `
      + `errors="${count(checks, 'error')}" skipped="${count(checks, 'skipped')}" time="${totalSeconds.toFixed(3)}">`,
  ];
  for (const [suite, list] of suites) {
    lines.push(`  <testsuite name="${xmlEscape(`${prefix}.${suite}`)}" tests="${list.length}" failures="${count(list, 'failed')}" `
      + `errors="${count(list, 'error')}" skipped="${count(list, 'skipped')}" timestamp="${xmlEscape(r.started_at)}">`);
    if (suite === 'verdict') {
      lines.push('    <properties>',
        ...[['run_id', r.run_id], ['workflow_id', r.workflow_id], ['scenario', r.scenario], ['verdict', r.verdict], ...proofProperties(r)]
          .map(([k, v]) => `      <property name="${k}" value="${xmlEscape(v!)}"/>`),
        '    </properties>');
    }
    for (const c of list) {
      const attrs = `classname="${xmlEscape(`${prefix}.${suite}`)}" name="${xmlEscape(c.name)}" time="${(c.seconds ?? 0).toFixed(3)}"`;
      const body: string[] = [];
      if (c.status === 'failed') body.push(`      <failure message="${xmlEscape(c.message ?? 'failed')}" type="${xmlEscape(suite)}">${xmlEscape(c.detail ?? c.message ?? '')}</failure>`);
      if (c.status === 'error') body.push(`      <error message="${xmlEscape(c.message ?? 'error')}" type="${xmlEscape(suite)}">${xmlEscape(c.detail ?? c.message ?? '')}</error>`);
      if (c.status === 'skipped') body.push(`      <skipped message="${xmlEscape(c.message ?? 'skipped')}"/>`);
      if (c.detail && c.status === 'passed') body.push(`      <system-out>${xmlEscape(c.detail)}</system-out>`);
      lines.push(body.length > 0 ? `    <testcase ${attrs}>\n${body.join('\n')}\n    </testcase>` : `    <testcase ${attrs}/>`);
    }
    lines.push('  </testsuite>');
  }
  lines.push('</testsuites>', '');
  return lines.join('\n');
}
