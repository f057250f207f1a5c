export { ledgerSpecSchema, type LedgerSpec, type LedgerEntry, type LedgerRef } from './types.ts';
export { ledgerEntry, ledgerSlice } from './generate.ts';
export { persistLedger, runArtifactsDir, LEDGER_SCHEMA } from './persist.ts';
export { generateLedger } from './activities.ts';
