export { drain, groupLag, type DrainInput, type DrainResult } from './drain.ts';
export { drainPipelines } from './activities.ts';
