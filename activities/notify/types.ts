// Notification targets a scenario declares (`notify:`), and what sending them gave.
// Plain schema + types: the scenario schema and the report import them.
import { z } from 'zod';
import { positiveDurationMs } from '../scenario/duration.ts';

export const notifyFormats = ['json', 'slack', 'pagerduty'] as const;
export type NotifyFormat = (typeof notifyFormats)[number];

const verdictNames = ['PASS', 'FAIL', 'ABORTED', 'ERROR'] as const;
const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name (letters, digits, _)');
const webhookUrl = z.string().url().refine((u) => /^https?:\/\//.test(u), { message: 'expected an http:// or https:// URL' });

/** PagerDuty's Events API v2 endpoint, the default URL of the pagerduty format. */
export const PAGERDUTY_EVENTS_URL = 'https://events.pagerduty.com/v2/enqueue';

export const notifyTargetSchema = z
  .object({
    /** The label in the report and logs (default: the format and position). */
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'letters, digits, _ . - only').optional(),
    format: z.enum(notifyFormats).default('json'),
    /** Webhook URL; or `url_env`, the variable holding it (Slack webhook URLs are secrets). */
    url: webhookUrl.optional(),
    url_env: envName.optional(),
    /** pagerduty: the variable holding the integration's routing key (never the key itself). */
    routing_key_env: envName.optional(),
    /** The verdicts that send this notification. */
    on: z.array(z.enum(verdictNames)).min(1).default(['FAIL', 'ERROR', 'ABORTED']),
    retry: z.object({ attempts: z.number().int().min(1).max(10).default(3), backoff: positiveDurationMs.default(1000) })
      .strict().default({ attempts: 3, backoff: 1000 }),
    timeout: positiveDurationMs.default(10_000),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (t.url && t.url_env) ctx.addIssue({ code: 'custom', message: 'give url or url_env, not both', path: ['url_env'] });
    if (!t.url && !t.url_env && t.format !== 'pagerduty') {
      ctx.addIssue({ code: 'custom', message: `format ${t.format} needs url or url_env`, path: ['url'] });
    }
    if (t.format === 'pagerduty' && !t.routing_key_env) {
      ctx.addIssue({ code: 'custom', message: 'format pagerduty needs routing_key_env (the variable holding the routing key)', path: ['routing_key_env'] });
    }
    if (t.format !== 'pagerduty' && t.routing_key_env) {
      ctx.addIssue({ code: 'custom', message: 'routing_key_env applies to format pagerduty only', path: ['routing_key_env'] });
    }
  });
export type NotifyTarget = z.output<typeof notifyTargetSchema>;

/** Links a notification carries; absent ones are left out. */
export interface NotifyLinks {
  report?: string;
  temporal_ui?: string;
  dashboard?: string;
}

/** One target's outcome, recorded in the report. Destinations are redacted (no secrets). */
export interface NotificationResult {
  name: string;
  format: NotifyFormat;
  /** scheme://host/… only: webhook paths and keys are secrets. */
  destination: string;
  sent: boolean;
  attempts: number;
  /** Why it was not sent (last attempt), when it was not. */
  error?: string;
  at: string;
}
