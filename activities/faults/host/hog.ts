// A bounded resource hog, started by the host backend as its own process:
//   node hog.ts ordeal-fault-hog <faultId> <cpu|memory> <amount> <deadlineEpochMs>
// The marker and the fault id in argv let any process find and end it; the deadline
// (the fault's lease plus a margin) ends it even if every reverter is gone.
import { Worker } from 'node:worker_threads';

const [, , marker, faultId, kind, amountText, deadlineText] = process.argv;
const amount = Number(amountText);
const deadline = Number(deadlineText);
if (marker !== 'ordeal-fault-hog' || !faultId || !Number.isFinite(amount) || !Number.isFinite(deadline)) {
  process.stderr.write('usage: hog.ts ordeal-fault-hog <faultId> <cpu|memory> <amount> <deadlineEpochMs>\n');
  process.exit(2);
}
setTimeout(() => process.exit(0), Math.max(0, deadline - Date.now())).unref();

if (kind === 'cpu') {
  const spin = `const end = ${deadline}; while (Date.now() < end) { for (let i = 0; i < 1e6; i++); }`;
  for (let i = 1; i < amount; i++) new Worker(spin, { eval: true });
  // The main thread spins too, in slices, so the exit timer can still fire.
  const slice = () => {
    const until = Date.now() + 50;
    while (Date.now() < until) { /* burn */ }
    if (Date.now() < deadline) setImmediate(slice);
  };
  slice();
} else if (kind === 'memory') {
  const chunks: Buffer[] = [];
  const chunkMb = 16;
  for (let held = 0; held < amount; held += chunkMb) {
    // allocUnsafe + fill: every page written, so it is resident rather than merely reserved.
    chunks.push(Buffer.allocUnsafe(Math.min(chunkMb, amount - held) * 1024 * 1024).fill(0xa5));
  }
  setInterval(() => chunks.length, 60_000);
} else {
  process.stderr.write(`unknown hog kind ${kind}\n`);
  process.exit(2);
}
