// Redelivery: every ledger entry without a definitive acknowledgement is sent again
// with its ORIGINAL idempotency key until acknowledged (bounded attempts and time).
// A system that committed a timed-out request must replay the same payment.
import { Context } from '@temporalio/activity';
import { ledgerEntry } from '../ledger/generate.ts';
import type { LedgerSpec } from '../ledger/types.ts';
import { errorClass, HttpTarget, statusOutcome } from './http.ts';
import { outcomeDb, recordRedelivery } from './outcomes.ts';
import { compileTemplate } from './template.ts';
import type { LoadSettings, OutcomeStatus } from './types.ts';

export interface RedeliverInput {
  runId: string;
  settings: LoadSettings;
  ledger: LedgerSpec;
  /** Overall bound (default: 2 minutes); entries still unanswered then stay unknown. */
  deadlineMs?: number;
  /** Sends per entry (default: max(retry.attempts, 5)). */
  attempts?: number;
  concurrency?: number;
}
export interface RedeliverResult {
  resent: number;
  acked: number;
  stillUnacknowledged: number;
  /** HTTP requests sent, every attempt counted. */
  requests: number;
  /** Requests that got an HTTP answer of any status (0: the system never answered). */
  answered: number;
  /** Failed requests per error class (timeout, connection_reset, http_5xx, ...): what the system did instead of acknowledging. */
  errorsByClass: Record<string, number>;
}

const CHUNK = 5000;
/** Heartbeats on a timer, not per chunk: a chunk against a hung system takes minutes of timeouts. */
const HEARTBEAT_MS = 2000;

export async function redeliverUnacknowledged(input: RedeliverInput): Promise<RedeliverResult> {
  const { runId, settings, ledger } = input;
  const ctx = (() => { try { return Context.current(); } catch { return undefined; } })();
  const deadline = Date.now() + (input.deadlineMs ?? 120_000);
  const maxAttempts = input.attempts ?? Math.max(settings.retry.attempts, 5);
  const concurrency = input.concurrency ?? 32;
  const pool = await outcomeDb();
  const tpl = compileTemplate(settings.request);
  const http = new HttpTarget(new URL(settings.target).origin, concurrency);
  const perShard = Math.ceil(ledger.messages / Math.max(1, settings.shards));
  let resent = 0;
  let acked = 0;
  let still = 0;
  let requests = 0;
  let answered = 0;
  const errorsByClass: Record<string, number> = {};
  let lo = 0;
  const beat = setInterval(() => ctx?.heartbeat({ lo, resent, acked, still }), HEARTBEAT_MS);
  try {
    for (; lo < ledger.messages; lo += CHUNK) {
      const hi = Math.min(ledger.messages, lo + CHUNK);
      const res = await pool.query<{ seq: number; status: OutcomeStatus; shard: number }>(
        'SELECT seq, status, shard FROM load_outcomes WHERE run_id = $1 AND seq >= $2 AND seq < $3', [runId, lo, hi]);
      const known = new Map(res.rows.map((r) => [r.seq, r]));
      const todo: number[] = [];
      for (let seq = lo; seq < hi; seq++) if (known.get(seq)?.status !== 'acknowledged') todo.push(seq);
      if (!todo.length) continue;
      const rows: Parameters<typeof recordRedelivery>[2] = [];
      let i = 0;
      const lane = async () => {
        while (i < todo.length) {
          const seq = todo[i++]!;
          const e = ledgerEntry(runId, ledger, seq);
          const req = tpl.build(e, runId, e.idempotency_key);
          let status: OutcomeStatus = 'unknown';
          let paymentId: string | null = null;
          let cls: string | null = null;
          let http_status: number | null = null;
          let n = 0;
          if (Date.now() >= deadline || ctx?.cancellationSignal.aborted) { still++; continue; }
          resent++;
          for (n = 1; n <= maxAttempts && Date.now() < deadline; n++) {
            requests++;
            try {
              const ans = await http.send(req, settings.timeout);
              answered++;
              http_status = ans.status;
              const o = statusOutcome(ans.status);
              cls = o.cls || null;
              if (o.kind === 'ack') {
                status = 'acknowledged';
                try { paymentId = tpl.ackId(JSON.parse(ans.body)) ?? null; } catch { paymentId = null; }
                break;
              }
              if (o.kind === 'failed') { status = 'failed'; break; }
            } catch (err) {
              cls = errorClass(err);
            }
            if (cls) errorsByClass[cls] = (errorsByClass[cls] ?? 0) + 1;
            if (n < maxAttempts) await new Promise((r) => setTimeout(r, Math.min(settings.retry.backoff * 2 ** (n - 1), 5000)));
          }
          if (status === 'acknowledged') acked++;
          else still++;
          rows.push({ seq, shard: known.get(seq)?.shard ?? Math.floor(seq / perShard), message_id: e.message_id, idempotency_key: e.idempotency_key,
            status, payment_id: paymentId, attempts: Math.min(n, maxAttempts), error_class: cls, http_status });
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, todo.length) }, lane));
      await recordRedelivery(pool, runId, rows);
    }
  } finally {
    clearInterval(beat);
    await http.close();
  }
  return { resent, acked, stillUnacknowledged: still, requests, answered, errorsByClass };
}
