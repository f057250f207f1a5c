// The system under test as data: the system file's schema, loading and placeholders.
export * from './schema.ts';
export { loadSystemFile, parseSystem, problemsOf, readSystemFile, SystemFileError, type SystemOutcome, type SystemProblem } from './load.ts';
export { substitute, systemPlaceholders } from './placeholders.ts';
export { soakServicesOf } from './soak.ts';
