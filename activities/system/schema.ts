// The system file: what Ordeal may touch in the system under test (services it may
// kill, pause and restart; proxies it creates in its Toxiproxy; the payment
// provider's admin API) and the defaults a scenario inherits from it. Plain schema +
// types with no side effects: workflows and fault handles carry a resolved system as
// plain data. Keys are snake_case, as written in YAML.
import { z } from 'zod';
import { notifyTargetSchema } from '../notify/types.ts';

/** A name a scenario uses for a service or proxy (`target: acme`, `${services.acme.url}`). */
const declName = z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'lowercase letters, digits, _ and - only');

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|\[::1\])$/;

/** "127.0.0.1:5433": a host and a port, split at the last colon. */
export function splitHostPort(text: string): { host: string; port: number } | undefined {
  const at = text.lastIndexOf(':');
  if (at <= 0) return undefined;
  const port = Number(text.slice(at + 1));
  if (!Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { host: text.slice(0, at), port };
}

const hostPort = z.string().refine((s) => splitHostPort(s) !== undefined, { message: 'expected host:port (e.g. 127.0.0.1:5433)' });
/** Ordeal's traffic stays on loopback (network rule): proxies listen and forward there only. */
const loopbackHostPort = hostPort.refine((s) => LOOPBACK.test(splitHostPort(s)?.host ?? ''), {
  message: 'expected a loopback host:port (127.x.x.x, localhost or [::1]); Ordeal sends fault traffic to loopback only',
});
const httpUrl = z.string().url().refine((u) => /^https?:\/\//.test(u), { message: 'expected an http:// or https:// URL' });

export const readinessSchema = z.union([
  z.object({ http: httpUrl }).strict(),
  z.object({ tcp: hostPort }).strict(),
], { error: 'ready is { http: <url answering 2xx> } or { tcp: <host:port accepting connections> }' });
export type Readiness = z.output<typeof readinessSchema>;

/** Fault worker host names become task queue names (`ordeal-faults-<host>`). */
const hostName = z.string().regex(/^[a-z0-9][a-z0-9_.-]*$/, 'lowercase letters, digits, _, . and - only');

export const processServiceSchema = z
  .object({
    kind: z.literal('process'),
    /** A file holding the pid of the service's main process (a number, or the stack's JSON pid record). */
    pid_file: z.string().min(1).optional(),
    /** A regex over /proc/<pid>/cmdline (args joined by spaces) that must match exactly one process tree (its root). */
    match: z.string().min(1).optional(),
    /** Kill/pause via the unit's MainPID; restart via `systemctl start`. */
    systemd_unit: z.string().min(1).optional(),
    /** Shell command that starts the service again after a kill (not with systemd_unit). */
    start: z.string().min(1).optional(),
    cwd: z.string().min(1).optional(),
    env: z.record(z.string(), z.string()).optional(),
    /** How to tell it is up again. */
    ready: readinessSchema.optional(),
    /** For ${services.<name>.url}. */
    url: z.string().min(1).optional(),
    /** Fault worker host; default: the local one ('local'). */
    host: hostName.optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    const ways = (['pid_file', 'match', 'systemd_unit'] as const).filter((k) => s[k] !== undefined);
    if (ways.length !== 1) {
      ctx.addIssue({
        code: 'custom', path: ways.length ? [ways[1]!] : [],
        message: ways.length
          ? `a process service is identified one way; got ${ways.join(' and ')} (keep exactly one of pid_file, match, systemd_unit)`
          : 'a process service needs exactly one of pid_file, match or systemd_unit (how Ordeal finds its process)',
      });
    }
    if (s.match !== undefined) {
      try {
        new RegExp(s.match);
      } catch (err) {
        ctx.addIssue({ code: 'custom', path: ['match'], message: `not a valid regular expression: ${(err as Error).message}` });
      }
    }
    if (s.systemd_unit !== undefined && s.start !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['start'], message: 'a systemd unit is restarted by `systemctl start <unit>`; start is for pid_file/match services' });
    }
  });
export type ProcessServiceDecl = z.output<typeof processServiceSchema>;

export const dockerServiceSchema = z
  .object({
    kind: z.literal('docker'),
    /** The container faults act on (a name or an id, as `docker inspect` takes it); it must carry the label ordeal.target=true. */
    container: z.string().min(1),
    ready: readinessSchema.optional(),
    url: z.string().min(1).optional(),
    host: hostName.optional(),
  })
  .strict();
export type DockerServiceDecl = z.output<typeof dockerServiceSchema>;

export const serviceDeclSchema = z.discriminatedUnion('kind', [processServiceSchema, dockerServiceSchema], {
  error: 'a service has kind: process (pid_file | match | systemd_unit) or kind: docker (container)',
});
export type ServiceDecl = ProcessServiceDecl | DockerServiceDecl;

/** "127.0.0.1:26001" -> "127.0.0.1:5433"; loopback only. */
export const proxyDeclSchema = z.object({ listen: loopbackHostPort, upstream: loopbackHostPort }).strict();
export type ProxyDecl = z.output<typeof proxyDeclSchema>;

export const reconcileDefaultKinds = ['postgres', 'stripe', 'kafka'] as const;

export const systemFileSchema = z
  .object({
    name: declName,
    description: z.string().optional(),
    services: z.record(declName, serviceDeclSchema).default({}),
    proxies: z.record(declName, proxyDeclSchema).default({}),
    provider: z.object({ admin_url: httpUrl }).strict().optional(),
    /** Notifications for every run against this system; a scenario's own `notify:` entries are added after these. */
    notify: z.array(notifyTargetSchema).optional(),
    defaults: z
      .object({
        /** Per source kind, merged under a scenario's reconcile entry (the scenario's fields win). */
        reconcile: z.partialRecord(z.enum(reconcileDefaultKinds), z.record(z.string(), z.unknown())).optional(),
        drain: z.object({ brokers: z.array(z.string().min(1)).min(1).optional() }).strict().optional(),
        /** The services whose memory a soak samples between cycles (default: every declared process service). */
        soak: z.object({ services: z.array(declName).min(1) }).strict().optional(),
        /** ${system.<key>} */
        placeholders: z.record(z.string().regex(/^[a-z0-9_]+$/, 'lowercase letters, digits and _ only'), z.string()).optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    // Two proxies on one port: Toxiproxy would refuse the second when the run starts.
    const seen = new Map<string, string>();
    for (const [name, p] of Object.entries(s.proxies)) {
      const other = seen.get(p.listen);
      if (other) ctx.addIssue({ code: 'custom', path: ['proxies', name, 'listen'], message: `${p.listen} is also proxies.${other}.listen` });
      seen.set(p.listen, name);
    }
    for (const [i, name] of (s.defaults?.soak?.services ?? []).entries()) {
      const decl = s.services[name];
      if (decl?.kind !== 'process') {
        ctx.addIssue({ code: 'custom', path: ['defaults', 'soak', 'services', i],
          message: decl ? `${name} is a ${decl.kind} service; a soak samples the memory of process services only`
            : `${name} is not a declared service (declared: ${Object.keys(s.services).join(', ') || 'none'})` });
      }
    }
    for (const [name, p] of Object.entries(s.proxies)) {
      if (p.listen === p.upstream) ctx.addIssue({ code: 'custom', path: ['proxies', name, 'upstream'], message: 'a proxy cannot forward to its own listen address' });
    }
  });

export type SystemFile = z.output<typeof systemFileSchema>;

/** The local fault worker's host name (services without `host:`). */
export const LOCAL_HOST = 'local';

/** Ordeal's own components (never faulted): in a zod-free module, so workflows may read it. */
export { protectedComponents } from './protected.ts';
