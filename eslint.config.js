// Lint guards three rules the design depends on: workflow code stays deterministic
// (no Node built-ins, no I/O libraries in workflows/), the core (activities/) never
// imports the embedded stack (scripts/: it receives its environment from its host),
// and no promise is left floating.
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = builtinModules.flatMap((m) => [m, `node:${m}`]);
const ioLibraries = ['pg', 'ioredis', 'kafkajs', 'undici', 'dockerode', 'stripe', 'pino', 'fastify', 'prom-client'];

export default tseslint.config(
  { ignores: ['node_modules/**', '.ordeal/**', 'reports/**', 'bench/results/**'] },
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.base],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // node:test's test()/describe() return promises the runner itself tracks.
      '@typescript-eslint/no-floating-promises': ['error', {
        allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] }],
      }],
      '@typescript-eslint/no-misused-promises': 'error',
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        paths: [...nodeBuiltins, ...ioLibraries].map((name) => ({
          name,
          message: 'Workflow code must be deterministic: do I/O in an activity.',
        })),
        patterns: [{
          // plan.ts is pure (no Node built-ins, no I/O): the workflow fans the load phase out with it;
          // faults/routing.ts too: it picks the task queue of each fault activity (per-host fault workers);
          // and system/soak.ts: which services a soak samples, from the system file as data.
          regex: '(^|/)activities/(?!load/plan\\.ts$|faults/routing\\.ts$|system/soak\\.ts$)',
          allowTypeImports: true,
          message: 'Workflows import activity types only (proxyActivities<typeof activities>).',
        }],
      }],
    },
  },
  {
    files: ['activities/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        patterns: [{
          regex: '(^|/)scripts/',
          message: 'The core does not know the embedded stack: take what you need from environment() (activities/environment), which the host sets.',
        }],
      }],
    },
  },
);
