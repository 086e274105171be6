// retry-inline: 100,000 retryWithBackoff calls one after another, each of an
// inline async function that fails twice before it succeeds, zero delay
// (the patterns guide's retryWithBackoff, a zero delay waiting one turn; peer of bench/ebb/retry-inline.lua).
import { retryWithBackoff } from './guide.mjs';

// setTimeout waits at least 1 ms: a zero delay waits one turn of the loop
// instead, as ebb's sleep(0) does.
const wait = (ms) => new Promise((resolve) => (ms > 0 ? setTimeout(resolve, ms) : setImmediate(resolve)));

const N = Number(process.argv[2] ?? 100000);
let attempts = 0, ok = 0;

for (let n = 0; n < N; n++) {
  let failures = 0;
  ok += await retryWithBackoff(async () => {
    attempts++;
    if (failures < 2) { failures++; throw new Error('x'); }
    return 1;
  }, { maxRetries: 3, baseDelay: 0, wait });
}

console.log(`retry-inline ${ok} ${attempts}`);
