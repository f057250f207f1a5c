// The nightly soak: one chaos experiment per cycle (a child workflow each, so every
// cycle has its own verdict, report and UI entry), the system's memory sampled
// between cycles, continue-as-new every few cycles so history stays far below 10k
// events, and a leak flagged when memory grows steadily across cycles.
import {
  ActivityFailure, ApplicationFailure, CancellationScope, continueAsNew, defineQuery, defineSignal, executeChild, isCancellation,
  patched, proxyActivities, setCurrentDetails, setHandler, upsertSearchAttributes, workflowInfo,
} from '@temporalio/workflow';
import type { Verdict } from '../activities/report/types.ts';
import { soakServicesOf } from '../activities/system/soak.ts';
import type { SystemFile } from '../activities/system/schema.ts';
import { chaosExperiment } from './experiment.ts';
import { messageOf } from './failure.ts';
import { detectLeaks } from './leak.ts';
import { ABORT_SIGNAL, STATUS_QUERY } from './names.ts';
import type { ProbeActivities } from './phases.ts';
import { experimentActivities } from './profiles.ts';
import { OrdealScenario, OrdealVerdict, type AbortRequest, type RssSample, type SoakInput, type SoakResult, type SoakState } from './types.ts';

export const soakAbortSignal = defineSignal<[AbortRequest]>(ABORT_SIGNAL);
export const soakStatusQuery = defineQuery<SoakState & { aborted: string | null }>(STATUS_QUERY);

const { sampleRss } = proxyActivities<ProbeActivities>({ startToCloseTimeout: '30s', retry: { maximumAttempts: 3 } });

const MAX_SAMPLES = 500;

/** What soaks sampled before the system file named the services: only histories of soaks started then take this path. */
const LEGACY_SERVICES = ['payment-api', 'stream-processor'];

/**
 * The services to sample and the system they belong to: the cycle scenario's system
 * (its own system file, or the embedded stack's), resolved once per run; the input's
 * `services` win over the system's `defaults.soak.services`.
 */
async function sampled(input: SoakInput): Promise<{ services: string[]; system?: SystemFile }> {
  if (!patched('soak-services-from-system')) return { services: input.services ?? LEGACY_SERVICES };
  let system: SystemFile | undefined;
  try {
    ({ scenario: { system } } = await experimentActivities.resolveScenario.executeWithOptions(
      { summary: 'the soak\'s system: which services to sample' }, [{ scenario: input.scenario, overrides: input.overrides ?? [] }]));
  } catch (err) {
    const cause = err instanceof ActivityFailure ? err.cause : err;
    const type = cause instanceof ApplicationFailure && cause.type === 'InvalidScenario' ? 'InvalidScenario' : 'ScenarioResolutionFailed';
    throw ApplicationFailure.create({ type, nonRetryable: true, message: messageOf(cause) });
  }
  const services = input.services ?? (system ? soakServicesOf(system) : LEGACY_SERVICES);
  return system ? { services, system } : { services };
}

export async function soakExperiment(input: SoakInput): Promise<SoakResult> {
  const info = workflowInfo();
  const state: SoakState = input.state ?? { cycle: 0, samples: [], verdicts: [] };
  const perRun = input.cyclesPerRun ?? 20;
  let aborted: string | null = null;
  let child: CancellationScope | null = null;
  setHandler(soakStatusQuery, () => ({ ...state, aborted }));
  setHandler(soakAbortSignal, ({ reason }) => {
    aborted ??= reason || 'no reason given';
    child?.cancel();
  });

  const { services, system } = await sampled(input);
  const sample = async () => {
    try {
      const rss = await sampleRss.executeWithOptions({ summary: `sample RSS of ${services.join(', ')}` }, [{ services, ...(system ? { system } : {}) }]);
      state.samples.push({ at: new Date(Date.now()).toISOString(), cycle: state.cycle, rss_bytes: rss } satisfies RssSample);
      if (state.samples.length > MAX_SAMPLES) state.samples.splice(0, state.samples.length - MAX_SAMPLES);
    } catch (err) {
      if (isCancellation(err)) throw err;
      // A missed sample weakens the leak check but is no reason to stop the soak.
    }
  };

  upsertSearchAttributes([{ key: OrdealScenario, value: typeof input.scenario === 'string' ? input.scenario : 'inline' }]);
  if (state.samples.length === 0) await sample();
  const done = () => aborted !== null || (input.cycles > 0 && state.cycle >= input.cycles);
  for (let i = 0; i < perRun && !done(); i++) {
    const n = state.cycle + 1;
    setCurrentDetails(`soak cycle ${n}${input.cycles ? `/${input.cycles}` : ''}`);
    child = new CancellationScope();
    let verdict: Verdict = 'ERROR';
    let runId = '';
    try {
      const r = await child.run(() => executeChild(chaosExperiment, {
        workflowId: `${info.workflowId}-cycle-${n}`,
        args: [{ scenario: input.scenario, ...(input.overrides ? { overrides: input.overrides } : {}),
          ...(input.loadTaskQueue ? { loadTaskQueue: input.loadTaskQueue } : {}) }],
        staticSummary: `soak cycle ${n}`,
      }));
      verdict = r.verdict;
      runId = r.run_id;
    } catch (err) {
      verdict = aborted ? 'ABORTED' : 'ERROR';
      if (err instanceof ApplicationFailure && err.type === 'InvalidScenario') throw err;
    }
    child = null;
    state.cycle = n;
    state.verdicts.push({ cycle: n, run_id: runId, verdict });
    if (state.verdicts.length > MAX_SAMPLES) state.verdicts.splice(0, state.verdicts.length - MAX_SAMPLES);
    await sample();
  }

  if (!done()) return continueAsNew<typeof soakExperiment>({ ...input, state });

  const leaks = detectLeaks(state.samples);
  const vs = state.verdicts.map((v) => v.verdict);
  const verdict: Verdict = aborted ? 'ABORTED' : vs.includes('ERROR') ? 'ERROR' : vs.includes('FAIL') || leaks.length ? 'FAIL' : 'PASS';
  upsertSearchAttributes([{ key: OrdealVerdict, value: verdict }]);
  return { cycles: state.cycle, verdict, leaks, verdicts: state.verdicts };
}
