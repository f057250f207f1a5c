// Turning what a user gave (a scenario name, a file, or an inline document, plus
// `--set path=value` overrides) into a validated Scenario, or into the complete list
// of problems, each addressed by its field path. Nothing is touched here: a bad
// scenario must fail before any side effect.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { environment } from '../environment/index.ts';
import { loadSystemFile, parseSystem, problemsOf, substitute, systemPlaceholders, type SystemFile, type SystemOutcome } from '../system/index.ts';
import { semanticProblems as semanticLoadProblems } from '../load/plan.ts';
import { notifyEnvProblems } from '../notify/env.ts';
import { crossSectionProblems } from './checks.ts';
import { preflight, type PreflightReport } from '../preflight/index.ts';
import { validateFaultTargets } from '../faults/index.ts';
import { scenarioSchema, type Scenario, type ScenarioProblem } from './schema.ts';

export const scenariosDir = join(import.meta.dirname, '..', '..', 'scenarios');

export type ScenarioRef = string | Record<string, unknown>;

export interface ResolveInput {
  /** A shipped scenario's name, a path to a YAML file, or the document itself. */
  scenario: ScenarioRef;
  /** `path=value` overrides; value is read as YAML (numbers, booleans, lists). */
  overrides?: string[];
}

export type ResolveOutcome =
  | { ok: true; scenario: Scenario; source: string; live?: PreflightReport }
  | { ok: false; problems: ScenarioProblem[]; source: string; live?: PreflightReport; /** Set when the schema held (other checks failed): live checks can still run. */ parsed?: Scenario };

export class ScenarioError extends Error {
  override name = 'ScenarioError';
  readonly problems: ScenarioProblem[];
  readonly source: string;
  constructor(source: string, problems: ScenarioProblem[]) {
    super(formatProblems(source, problems));
    this.problems = problems;
    this.source = source;
  }
}

export function formatProblems(source: string, problems: ScenarioProblem[]): string {
  return `scenario ${source} is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n`
    + problems.map((p) => `  ${p.path || '(root)'}: ${p.message}`).join('\n');
}

/** Names of the shipped scenarios (files under scenarios/). */
export function listScenarios(dir = scenariosDir): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).map((f) => f.replace(/\.ya?ml$/, '')).sort();
}

function loadDocument(ref: ScenarioRef, dir: string): { doc: unknown; source: string; dir: string } | { problem: ScenarioProblem; source: string } {
  if (typeof ref !== 'string') return { doc: structuredClone(ref), source: 'inline', dir: process.cwd() };
  const candidates = /[/\\]|\.ya?ml$/.test(ref)
    ? [isAbsolute(ref) ? ref : join(process.cwd(), ref)]
    : [join(dir, `${ref}.yaml`), join(dir, `${ref}.yml`)];
  const file = candidates.find((c) => existsSync(c));
  if (!file) {
    const known = listScenarios(dir);
    return {
      source: ref,
      problem: { path: '', message: `no scenario named "${ref}" (looked for ${candidates.join(', ')}; shipped: ${known.join(', ') || 'none'})` },
    };
  }
  try {
    return { doc: parseYaml(readFileSync(file, 'utf8')), source: basename(file), dir: dirname(file) };
  } catch (err) {
    return { source: basename(file), problem: { path: '', message: `not valid YAML: ${(err as Error).message}` } };
  }
}

/** Applies `a.b.0.c=value` to a plain document, creating objects on the way. */
export function applyOverride(doc: Record<string, unknown>, assignment: string): ScenarioProblem | undefined {
  const eq = assignment.indexOf('=');
  if (eq <= 0) return { path: assignment, message: 'an override is path=value (e.g. load.rate=500)' };
  const path = assignment.slice(0, eq).trim().split('.');
  let value: unknown;
  try {
    value = parseYaml(assignment.slice(eq + 1));
  } catch {
    value = assignment.slice(eq + 1);
  }
  let node: Record<string, unknown> | unknown[] = doc;
  for (let i = 0; i < path.length - 1; i++) {
    const key = path[i]!;
    const next = (node as Record<string, unknown>)[key];
    if (next === undefined || next === null) {
      const created = /^\d+$/.test(path[i + 1]!) ? [] : {};
      (node as Record<string, unknown>)[key] = created;
      node = created;
    } else if (typeof next === 'object') {
      node = next as Record<string, unknown>;
    } else {
      return { path: path.slice(0, i + 1).join('.'), message: `cannot set ${path.join('.')}: ${path.slice(0, i + 1).join('.')} is a ${typeof next}` };
    }
  }
  (node as Record<string, unknown>)[path[path.length - 1]!] = value;
  return undefined;
}

/**
 * The system a scenario runs against: `system: ./acme.system.yaml` (relative to the
 * scenario file, or absolute), an inline mapping, or the environment's default (the
 * embedded stack's own system file). Problems are addressed under `system`.
 */
export function resolveSystem(ref: unknown, scenarioDir: string): SystemOutcome {
  if (ref === undefined || ref === null) {
    try {
      return { ok: true, system: environment().defaultSystem(), source: environment().description };
    } catch (err) {
      return { ok: false, source: 'default', problems: [{ path: 'system', message: `no system: given and the default system is unavailable: ${(err as Error).message}` }] };
    }
  }
  const outcome = typeof ref === 'string' ? loadSystemFile(ref, scenarioDir)
    : ref && typeof ref === 'object' && !Array.isArray(ref) ? parseSystem(ref, 'inline system', scenarioDir)
      : { ok: false as const, source: 'system', problems: [{ path: '', message: 'system is a path to a system file or an inline system mapping' }] };
  if (outcome.ok) return outcome;
  const where = typeof ref === 'string' ? ` (${outcome.source})` : '';
  return { ...outcome, problems: outcome.problems.map((p) => ({ path: p.path ? `system.${p.path}` : 'system', message: `${p.message}${where}` })) };
}

/** Fills what the scenario leaves out from the system's defaults (reconcile sources, drain brokers). */
export function applySystemDefaults(doc: Record<string, unknown>, system: SystemFile): void {
  const d = system.defaults;
  if (!d) return;
  if (Array.isArray(doc.reconcile)) {
    doc.reconcile = doc.reconcile.map((r) => {
      const kind = obj(r).source;
      const base = typeof kind === 'string' ? d.reconcile?.[kind as 'postgres'] : undefined;
      return base && r && typeof r === 'object' ? { ...base, ...(r as Loose) } : r;
    });
  }
  if (d.drain?.brokers && obj(doc.drain).brokers === undefined) doc.drain = { ...obj(doc.drain), brokers: [...d.drain.brokers] };
}

/** Every placeholder a scenario may use with this system: the environment's (${ports.*}) and the system's. */
export function placeholdersFor(system: SystemFile): Record<string, string> {
  let host: Record<string, string> = {};
  try { host = environment().placeholders(); } catch { /* no environment: the system's placeholders only */ }
  return { ...host, ...systemPlaceholders(system) };
}

const LOOPBACK_HOSTS = new Set(['localhost', '::1', '[::1]']);
export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOSTS.has(host) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function hostOf(urlOrHostPort: string): string | undefined {
  try {
    return new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(urlOrHostPort) ? urlOrHostPort : `tcp://${urlOrHostPort}`).hostname;
  } catch {
    return undefined;
  }
}

type Loose = Record<string, unknown>;
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const obj = (v: unknown): Loose => (v && typeof v === 'object' && !Array.isArray(v) ? v as Loose : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/**
 * Loopback-only traffic: every endpoint a scenario names must be loopback. Reads
 * the document leniently so that they report alongside schema problems (every
 * problem at once), not after the schema ones are fixed.
 */
export function loopbackProblems(doc: Loose): ScenarioProblem[] {
  const problems: ScenarioProblem[] = [];
  const load = obj(doc.load), recovery = obj(doc.recovery), steady = obj(doc.steady_state), drain = obj(doc.drain);
  if (obj(doc.safety).allow_non_loopback !== true) {
    const endpoints: [string, string | undefined][] = [
      ['load.target', str(load.target)],
      ['recovery.probe', str(recovery.probe)],
      ['recovery.business.url', str(obj(recovery.business).url)],
      ['steady_state.probe', str(steady.probe)],
      ...arr(doc.reconcile).flatMap((r, i): [string, string | undefined][] => [
        [`reconcile.${i}.url`, str(obj(r).url)],
        ...arr(obj(r).brokers).map((b, j): [string, string | undefined] => [`reconcile.${i}.brokers.${j}`, str(b)]),
      ]),
      ...arr(drain.brokers).map((b, j): [string, string | undefined] => [`drain.brokers.${j}`, str(b)]),
    ];
    for (const [path, value] of endpoints) {
      if (!value) continue;
      const host = hostOf(value.trim());
      if (!host || !isLoopbackHost(host)) {
        problems.push({ path, message: `${value.trim()} is not a loopback address; traffic stays on 127.0.0.1 unless safety.allow_non_loopback is true` });
      }
    }
  }
  return problems;
}

/** The load engine's own checks (what each executor needs, template fields, mix names). */
function loadProblems(settings: Scenario['load']): ScenarioProblem[] {
  return semanticLoadProblems(settings).map(problemOf);
}

/** "load.stages[1].target: message" → { path: "load.stages.1.target", message }. */
function problemOf(line: string): ScenarioProblem {
  const at = line.indexOf(': ');
  if (at < 0) return { path: '', message: line };
  return { path: line.slice(0, at).replace(/\[(\d+)\]/g, '.$1'), message: line.slice(at + 2) };
}

/**
 * What validation reads besides the scenario. `env`: where notify entries' variables must
 * be set (default this process's; false skips the check, for a client whose environment
 * is not the orchestrator worker's: the run's own validation on the worker checks them).
 */
export interface ResolveOptions { dir?: string; env?: NodeJS.ProcessEnv | false }

/**
 * A run notifies the system file's targets, then the scenario's own (docs/observability.md);
 * a variable either names that is not set is a problem at the field that names it.
 */
function withSystemNotify(s: Scenario, env: NodeJS.ProcessEnv | false, problems: ScenarioProblem[]): Scenario {
  const fromSystem = s.system?.notify ?? [];
  if (env !== false) {
    problems.push(...notifyEnvProblems(fromSystem, 'system.notify', env), ...notifyEnvProblems(s.notify, 'notify', env, fromSystem.length));
  }
  return fromSystem.length ? { ...s, notify: [...fromSystem, ...s.notify] } : s;
}

/** Resolves and validates; never throws for a bad scenario (the problems are the answer). */
export function resolveScenarioDocument(input: ResolveInput, opts: ResolveOptions = {}): ResolveOutcome {
  const loaded = loadDocument(input.scenario, opts.dir ?? scenariosDir);
  if ('problem' in loaded) return { ok: false, problems: [loaded.problem], source: loaded.source };
  const { source } = loaded;
  if (!loaded.doc || typeof loaded.doc !== 'object' || Array.isArray(loaded.doc)) {
    return { ok: false, source, problems: [{ path: '', message: 'a scenario is a YAML mapping (name, ledger, load, faults, ...)' }] };
  }
  const doc = loaded.doc as Record<string, unknown>;
  const problems: ScenarioProblem[] = [];
  for (const o of input.overrides ?? []) {
    const p = applyOverride(doc, o);
    if (p) problems.push(p);
  }
  const system = resolveSystem(doc.system, loaded.dir);
  if (!system.ok) problems.push(...system.problems);
  const known = system.ok ? placeholdersFor(system.system) : placeholdersFor({ name: 'none', services: {}, proxies: {} });
  const substituted = substitute({ ...doc, system: undefined }, known, [], problems) as Loose;
  if (system.ok) {
    applySystemDefaults(substituted, system.system);
    substituted.system = system.system;
  } else delete substituted.system;
  const parsed = scenarioSchema.safeParse(substituted);
  const cross = loopbackProblems(obj(substituted));
  if (!parsed.success) {
    problems.push(...problemsOf(parsed.error.issues));
    return { ok: false, source, problems: [...problems, ...cross] };
  }
  const load = loadProblems(parsed.data.load);
  // The cross-section checks read executor settings the load checks vouch for.
  problems.push(...cross, ...load, ...(load.length ? [] : crossSectionProblems(parsed.data)));
  const scenario = withSystemNotify(parsed.data, opts.env ?? process.env, problems);
  if (problems.length > 0) return { ok: false, source, problems, parsed: scenario };
  return { ok: true, source, scenario };
}

/**
 * The full validation: the synchronous checks above plus the fault catalog's own
 * target validation (type/backend/target/params; read-only probes for docker),
 * every problem at once.
 */
export async function validateScenario(input: ResolveInput, opts: ResolveOptions & { live?: boolean } = {}): Promise<ResolveOutcome> {
  const checked = await validateStatic(input, opts);
  const scenario = checked.ok ? checked.scenario : checked.parsed;
  if (!opts.live || !scenario) return checked;
  // Live: whatever passed the schema is checked against the world (nothing touched).
  const live = await preflight(scenario);
  const known = new Set((checked.ok ? [] : checked.problems).map((p) => p.path));
  const fresh = live.problems.filter((p) => !(p.path.startsWith('faults.') && [...known].some((k) => k.startsWith(`${p.path}.`))));
  const problems = [...(checked.ok ? [] : checked.problems), ...fresh];
  return problems.length ? { ok: false, source: checked.source, problems, live } : { ...checked, live };
}

async function validateStatic(input: ResolveInput, opts: ResolveOptions): Promise<ResolveOutcome> {
  const outcome = resolveScenarioDocument(input, opts);
  const loaded = loadDocument(input.scenario, opts.dir ?? scenariosDir);
  let faults: unknown[] = [];
  let system: SystemFile | undefined;
  if (outcome.ok) {
    faults = outcome.scenario.faults;
    system = outcome.scenario.system;
  } else if ('doc' in loaded) {
    const doc = obj(loaded.doc);
    for (const o of input.overrides ?? []) applyOverride(doc, o);
    // Faults are checked against the scenario's own system; a broken system file is reported already.
    const resolved = resolveSystem(doc.system, loaded.dir);
    if (resolved.ok) {
      faults = arr(doc.faults);
      system = resolved.system;
    }
  }
  const issues = faults.length ? await validateFaultTargets(faults, system ? { system } : {}) : [];
  const faultProblems = issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
  const known = new Set((outcome.ok ? [] : outcome.problems).map((p) => `${p.path}\u0000${p.message}`));
  const fresh = faultProblems.filter((p) => !known.has(`${p.path}\u0000${p.message}`));
  if (fresh.length === 0) return outcome;
  const parsed = outcome.ok ? outcome.scenario : outcome.parsed;
  return { ok: false, source: outcome.source, problems: [...(outcome.ok ? [] : outcome.problems), ...fresh], ...(parsed ? { parsed } : {}) };
}
