// Reading a system file: YAML → validated SystemFile, or every problem by its path
// (`services.acme.pid_file: ...`). Relative paths inside it (pid_file, cwd) are
// relative to the file, so a system file can live beside the service it describes.
// Nothing is touched here beyond reading the file.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { systemFileSchema, type SystemFile } from './schema.ts';

export interface SystemProblem {
  path: string;
  message: string;
}

export type SystemOutcome =
  | { ok: true; system: SystemFile; source: string }
  | { ok: false; problems: SystemProblem[]; source: string };

export class SystemFileError extends Error {
  override name = 'SystemFileError';
  readonly problems: SystemProblem[];
  constructor(source: string, problems: SystemProblem[]) {
    super(`system file ${source} is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n`
      + problems.map((p) => `  ${p.path || '(root)'}: ${p.message}`).join('\n'));
    this.problems = problems;
  }
}

/** zod issues as problems by path; one problem per unknown key, addressed by the key itself (reads better than its parent). */
export function problemsOf(issues: readonly z.core.$ZodIssue[]): SystemProblem[] {
  const problems: SystemProblem[] = [];
  for (const issue of issues) {
    const path = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) problems.push({ path: [...path, key].join('.'), message: `unknown field "${key}"` });
    } else {
      problems.push({ path: path.join('.'), message: issue.message });
    }
  }
  return problems;
}

/** Validates a parsed document; `baseDir` anchors relative pid_file/cwd paths. */
export function parseSystem(doc: unknown, source: string, baseDir?: string): SystemOutcome {
  const parsed = systemFileSchema.safeParse(doc ?? {});
  if (!parsed.success) return { ok: false, problems: problemsOf(parsed.error.issues), source };
  const system = parsed.data;
  if (baseDir) {
    for (const decl of Object.values(system.services)) {
      if (decl.kind !== 'process') continue;
      if (decl.pid_file && !isAbsolute(decl.pid_file)) decl.pid_file = resolve(baseDir, decl.pid_file);
      if (decl.cwd && !isAbsolute(decl.cwd)) decl.cwd = resolve(baseDir, decl.cwd);
    }
  }
  return { ok: true, system, source };
}

/** Reads and validates the system file at `file` (absolute, or relative to `relativeTo`). */
export function loadSystemFile(file: string, relativeTo = process.cwd()): SystemOutcome {
  const path = isAbsolute(file) ? file : resolve(relativeTo, file);
  if (!existsSync(path)) return { ok: false, source: path, problems: [{ path: '', message: `no system file at ${path}` }] };
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    return { ok: false, source: path, problems: [{ path: '', message: `not valid YAML: ${(err as Error).message}` }] };
  }
  return parseSystem(doc, path, dirname(path));
}

/** Like loadSystemFile, but throws a SystemFileError listing every problem. */
export function readSystemFile(file: string, relativeTo?: string): SystemFile {
  const outcome = loadSystemFile(file, relativeTo);
  if (!outcome.ok) throw new SystemFileError(outcome.source, outcome.problems);
  return outcome.system;
}
