// Every name that a workflow, its workers, the client API and the CLI must agree on,
// defined once. Plain strings with no imports, so workflow code, activities and
// scripts can all import this module.

/** Workflow types: the exported function names in workflows/index.ts (a unit test checks they agree). */
export const EXPERIMENT_WORKFLOW = 'chaosExperiment';
export const SOAK_WORKFLOW = 'soakExperiment';
export const WORKFLOW_TYPES = [EXPERIMENT_WORKFLOW, SOAK_WORKFLOW] as const;
export type WorkflowType = (typeof WORKFLOW_TYPES)[number];

/** Task queues: the orchestrator worker's (workflows and the short activities) and the load workers'. */
export const ORCHESTRATOR_TASK_QUEUE = 'ordeal';
export const LOAD_TASK_QUEUE = 'ordeal-load';

/** Signals. The experiment and the soak both take `abort`; load shards signal `loadProgress` about once a second. */
export const ABORT_SIGNAL = 'abort';
export const LOAD_PROGRESS_SIGNAL = 'loadProgress';

/** Queries. Both workflows answer `status` (each with its own shape). */
export const STATUS_QUERY = 'status';
