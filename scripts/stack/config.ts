// Where the embedded stack lives and which loopback ports it binds. Everything is
// overridable so that two stacks (a developer's and the test suite's) can run side
// by side: a YAML file (ORDEAL_STACK_CONFIG, default <repo>/ordeal.stack.yaml),
// then ORDEAL_HOME / ORDEAL_TOOLS / ORDEAL_PORT_OFFSET / ORDEAL_PORT_<NAME>.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export const defaultPorts = {
  postgres: 15432,
  ordeal_db: 17432,
  postgres_proxy: 25432,
  redis: 16379,
  redis_proxy: 26379,
  kafka: 19092,
  kafka_controller: 19093,
  kafka_internal: 19094,
  kafka_proxy: 29092,
  temporal: 7233,
  temporal_ui: 8233,
  temporal_http: 7243,
  temporal_metrics: 7244,
  toxiproxy: 8474,
  prometheus: 9090,
  stripe_emulator: 12111,
  payment_api: 18000,
  stream_processor: 18010,
  worker_metrics: 18020,
  experiment_metrics: 18025,
  load_worker_metrics: 18030,
  watchdog: 18040,
} as const;

export type PortName = keyof typeof defaultPorts;
export type Ports = Record<PortName, number>;

const port = z.number().int().min(1024).max(65535);
const fileSchema = z
  .object({
    home: z.string().min(1).optional(),
    tools: z.string().min(1).optional(),
    port_offset: z.number().int().min(-10000).max(30000).optional(),
    ports: z.object(Object.fromEntries(Object.keys(defaultPorts).map((k) => [k, port.optional()]))).strict().optional(),
  })
  .strict();

export interface StackConfig {
  root: string;
  /** Data, logs and pid files: <home>/data/<service>, <home>/logs, <home>/run. */
  home: string;
  /** Bootstrapped binaries (node, temporal, toxiproxy-server, kafka jars). */
  tools: string;
  ports: Ports;
  /** Where each setting came from, for error messages. */
  source: string;
}

export class StackConfigError extends Error {
  override name = 'StackConfigError';
}

export function loadStackConfig(env: NodeJS.ProcessEnv = process.env): StackConfig {
  const file = env.ORDEAL_STACK_CONFIG ?? join(repoRoot, 'ordeal.stack.yaml');
  let fromFile: z.infer<typeof fileSchema> = {};
  if (existsSync(file)) {
    const parsed = fileSchema.safeParse(parseYaml(readFileSync(file, 'utf8')) ?? {});
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`).join('\n');
      throw new StackConfigError(`invalid stack config ${file}:\n${problems}`);
    }
    fromFile = parsed.data;
  } else if (env.ORDEAL_STACK_CONFIG) {
    throw new StackConfigError(`ORDEAL_STACK_CONFIG names ${file}, which does not exist`);
  }

  const offset = intFromEnv(env, 'ORDEAL_PORT_OFFSET') ?? fromFile.port_offset ?? 0;
  const ports = {} as Ports;
  for (const name of Object.keys(defaultPorts) as PortName[]) {
    const explicit = intFromEnv(env, `ORDEAL_PORT_${name.toUpperCase()}`) ?? fromFile.ports?.[name];
    const value = explicit ?? defaultPorts[name] + offset;
    if (!Number.isInteger(value) || value < 1024 || value > 65535) {
      throw new StackConfigError(`port ${name} = ${value} is outside 1024..65535 (offset ${offset})`);
    }
    ports[name] = value;
  }
  const seen = new Map<number, string>();
  for (const [name, value] of Object.entries(ports)) {
    const other = seen.get(value);
    if (other) throw new StackConfigError(`ports ${other} and ${name} are both ${value}`);
    seen.set(value, name);
  }

  const home = resolve(env.ORDEAL_HOME ?? fromFile.home ?? join(repoRoot, '.ordeal'));
  const tools = resolve(env.ORDEAL_TOOLS ?? fromFile.tools ?? join(repoRoot, '.ordeal', 'tools'));
  return { root: repoRoot, home, tools, ports, source: existsSync(file) ? file : 'defaults + environment' };
}

function intFromEnv(env: NodeJS.ProcessEnv, key: string): number | undefined {
  const raw = env[key];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n)) throw new StackConfigError(`${key}=${raw} is not an integer`);
  return n;
}
