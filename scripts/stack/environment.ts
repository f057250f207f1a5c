// The embedded stack as one implementation of the core's environment: Ordeal's
// infrastructure (Temporal, Ordeal's database, Toxiproxy, the reports directory)
// from environment variables first and the stack's ports second, and the system
// file that describes the stack's own system under test. Every host of the
// activities (workers, watchdog, CLI, tests) builds this once.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { OrdealEnvironment, TemporalSettings } from '../../activities/environment/index.ts';
import { parseSystem, type ServiceDecl, type SystemFile } from '../../activities/system/index.ts';
import { loadStackConfig, type StackConfig } from './config.ts';
import { stackServices } from './services/index.ts';
import { ordealDbUrl } from './services/postgres.ts';
import { up } from './supervisor.ts';
import { embeddedSystem, pidFileOf, systemFileOf } from './system-file.ts';

/** The settings of Ordeal's own infrastructure, each from its variable or the stack's default. */
export function infraSettings(config: StackConfig, env: NodeJS.ProcessEnv = process.env) {
  const tls: NonNullable<TemporalSettings['tls']> = {};
  if (env.ORDEAL_TEMPORAL_TLS_CERT) tls.clientCertPath = env.ORDEAL_TEMPORAL_TLS_CERT;
  if (env.ORDEAL_TEMPORAL_TLS_KEY) tls.clientKeyPath = env.ORDEAL_TEMPORAL_TLS_KEY;
  if (env.ORDEAL_TEMPORAL_TLS_CA) tls.serverRootCaPath = env.ORDEAL_TEMPORAL_TLS_CA;
  if (env.ORDEAL_TEMPORAL_TLS_SERVER_NAME) tls.serverName = env.ORDEAL_TEMPORAL_TLS_SERVER_NAME;
  if (Boolean(tls.clientCertPath) !== Boolean(tls.clientKeyPath)) {
    throw new Error('ORDEAL_TEMPORAL_TLS_CERT and ORDEAL_TEMPORAL_TLS_KEY go together (mTLS needs both the certificate and its key)');
  }
  const temporal: TemporalSettings = {
    address: env.ORDEAL_TEMPORAL_ADDRESS || `127.0.0.1:${config.ports.temporal}`,
    namespace: env.ORDEAL_TEMPORAL_NAMESPACE || 'default',
  };
  if (Object.keys(tls).length || env.ORDEAL_TEMPORAL_TLS === '1' || env.ORDEAL_TEMPORAL_TLS === 'true') temporal.tls = tls;
  if (env.ORDEAL_TEMPORAL_API_KEY) temporal.apiKey = env.ORDEAL_TEMPORAL_API_KEY;
  return {
    temporal,
    ordealDbUrl: env.ORDEAL_DB_URL || ordealDbUrl(config),
    reportsDir: resolve(env.ORDEAL_REPORTS_DIR || join(config.home, 'reports')),
    toxiproxyUrl: env.ORDEAL_TOXIPROXY_URL || `http://127.0.0.1:${config.ports.toxiproxy}`,
    temporalUiUrl: env.ORDEAL_TEMPORAL_UI_URL || `http://127.0.0.1:${config.ports.temporal_ui}`,
  };
}

function readWritten(config: StackConfig): SystemFile {
  const file = systemFileOf(config);
  if (!existsSync(file)) return embeddedSystem(config);
  const outcome = parseSystem(parseYaml(readFileSync(file, 'utf8')), file, dirname(file));
  if (!outcome.ok) throw new Error(`the stack's system file ${file} is invalid: ${outcome.problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
  return outcome.system;
}

/** A service the stack supervisor started: one of its own, declared by its own pid file. */
function owns(config: StackConfig, service: string, decl: ServiceDecl): boolean {
  return stackServices.some((s) => s.name === service) && decl.kind === 'process' && decl.pid_file === pidFileOf(config, service);
}

export function stackEnvironment(env: NodeJS.ProcessEnv = process.env, config: StackConfig = loadStackConfig(env)): OrdealEnvironment {
  const infra = infraSettings(config, env);
  return {
    description: `embedded stack at ${config.home}`,
    ...infra,
    stateDir: config.home,
    host: env.ORDEAL_FAULT_HOST || 'local',
    defaultSystem: () => readWritten(config),
    placeholders: () => Object.fromEntries(Object.entries(config.ports).map(([k, v]) => [`ports.${k}`, String(v)])),
    // The stack's own services restart through its supervisor (its real readiness
    // checks, its defects); anything else through its declaration.
    ownsService: (service, decl) => owns(config, service, decl),
    async restart(service, decl) {
      if (!owns(config, service, decl)) return undefined;
      const rows = await up({ config, services: stackServices, only: [service] });
      const row = rows.find((r) => r.service === service);
      if (row?.state !== 'up' || row.pid === null) throw new Error(`restarted ${service}, but it is ${row?.state ?? 'missing'}: ${row?.detail ?? ''}`);
      return { pid: row.pid, detail: `restarted ${service} (pid ${row.pid}) through the stack supervisor` };
    },
  };
}
