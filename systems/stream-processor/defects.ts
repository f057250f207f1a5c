// Seeded defects of the stream processor (off by default). ORDEAL_DEFECTS holds the
// comma-separated names enabled for the whole stack; this process acts on its own
// names and ignores the others (they belong to the payment API, the relay, ...).
export const STREAM_DEFECTS = ['consumer_at_least_once', 'consumer_commit_before_process'] as const;
export type StreamDefect = (typeof STREAM_DEFECTS)[number];

/**
 * How the processor moves data from `payments` to `payments.settled`:
 * - exactly_once: the correct system (transactions, offsets in the transaction, durable dedup).
 * - at_least_once: no transactions; settlements produced, offsets auto-committed
 *   afterwards every few seconds, dedup only in memory: a kill re-delivers.
 * - commit_before_process: offsets committed when a batch arrives, settlements produced
 *   later from an in-memory buffer: a kill loses what was buffered.
 */
export type DeliveryMode = 'exactly_once' | 'at_least_once' | 'commit_before_process';

export function parseDefects(raw: string | undefined): { enabled: StreamDefect[]; others: string[] } {
  const names = (raw ?? '').split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  const enabled = STREAM_DEFECTS.filter((d) => names.includes(d));
  const others = names.filter((n) => !(STREAM_DEFECTS as readonly string[]).includes(n));
  return { enabled, others };
}

/** Losing data is the worse bug, so when both are on, commit-before-process wins. */
export function deliveryMode(enabled: readonly StreamDefect[]): DeliveryMode {
  if (enabled.includes('consumer_commit_before_process')) return 'commit_before_process';
  if (enabled.includes('consumer_at_least_once')) return 'at_least_once';
  return 'exactly_once';
}
