export { scenarioSchema, type Scenario, type ScenarioProblem } from './schema.ts';
export { resolveScenarioDocument, validateScenario, listScenarios, formatProblems, ScenarioError, scenariosDir, isLoopbackHost,
  type ResolveInput, type ResolveOutcome, type ScenarioRef } from './resolve.ts';
export { resolveScenario, INVALID_SCENARIO } from './activities.ts';
export { parseDuration, formatDuration } from './duration.ts';
