// The environment variables notify entries name (a webhook URL, a PagerDuty routing key)
// must be set where notifications are sent, or the run would only find out at its end.
// Checked with the scenario, before anything is touched: `ordeal validate` checks its own
// environment, a run's validation the orchestrator worker's (the sender). Pure.
import { targetName } from './format.ts';
import type { NotifyTarget } from './types.ts';

export interface NotifyEnvProblem { path: string; message: string }

/**
 * One problem per variable that is unset or empty, addressed by the field that names it
 * (`notify.0.routing_key_env`, `system.notify.1.url_env`). `firstIndex` is the entries'
 * position in the run's merged list (the system's entries come first), for their default names.
 */
export function notifyEnvProblems(targets: readonly NotifyTarget[], pathPrefix: string, env: NodeJS.ProcessEnv, firstIndex = 0): NotifyEnvProblem[] {
  const problems: NotifyEnvProblem[] = [];
  targets.forEach((t, i) => {
    const name = targetName(t, firstIndex + i);
    const check = (field: 'url_env' | 'routing_key_env', what: string) => {
      const v = t[field];
      if (v !== undefined && !env[v]) {
        problems.push({ path: `${pathPrefix}.${i}.${field}`,
          message: `environment variable ${v} is not set: expected ${what} of notification ${name}, in the environment of the orchestrator worker that sends it` });
      }
    };
    check('url_env', `the webhook URL (http:// or https://)`);
    check('routing_key_env', 'the PagerDuty Events v2 routing key');
  });
  return problems;
}
