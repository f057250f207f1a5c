export { ledgerSpecSchema, type LedgerSpec, type LedgerEntry, type LedgerRef } from './types.ts';
export { ledgerEntry, ledgerSlice } from './generate.ts';
