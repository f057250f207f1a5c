// Every workflow the orchestrator worker registers (its workflowsPath).
export { chaosExperiment, abortSignal, loadProgressSignal, statusQuery } from './experiment.ts';
export { soakExperiment } from './soak.ts';
