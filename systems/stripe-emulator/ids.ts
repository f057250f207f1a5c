// Stripe-looking ids: a prefix and 24 random base62 characters (random, not a
// counter, so ids stay unique across restarts and data dirs).
import { randomFillSync } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const pool = Buffer.alloc(4096);
let pos = pool.length;

export function randomId(prefix: string, length = 24): string {
  let s = prefix;
  for (let i = 0; i < length; ) {
    if (pos >= pool.length) {
      randomFillSync(pool);
      pos = 0;
    }
    const b = pool[pos++]!;
    if (b < 248) { // 248 = 4 * 62: keeps the distribution uniform
      s += ALPHABET[b % 62];
      i++;
    }
  }
  return s;
}
