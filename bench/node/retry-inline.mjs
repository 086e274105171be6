// retry-inline: 100,000 retryWithBackoff calls one after another, each of an
// inline async function that fails twice before it succeeds, zero delay
// (the patterns guide's retryWithBackoff, a zero delay waiting one turn; peer of bench/ebb/retry-inline.lua).
const retryWithBackoff = async (fn, {
  maxRetries = 3, baseDelay = 1000, maxDelay = 30_000, signal, shouldRetry = () => true,
} = {}) => {
  let lastError;
  for (let attempt = 0; attempt <= maxRetries; attempt++) {
    try {
      signal?.throwIfAborted();
      return await fn(attempt);
    } catch (error) {
      lastError = error;
      if (attempt === maxRetries || !shouldRetry(error)) break;
      const exponential = Math.min(maxDelay, baseDelay * 2 ** attempt);
      const jittered = Math.random() * exponential;
      // setTimeout waits at least 1 ms: a zero delay waits one turn of the
      // loop instead, as ebb's sleep(0) does.
      await new Promise((resolve) => (jittered > 0 ? setTimeout(resolve, jittered) : setImmediate(resolve)));
    }
  }
  throw lastError;
};

const N = Number(process.argv[2] ?? 100000);
let attempts = 0, ok = 0;

for (let n = 0; n < N; n++) {
  let failures = 0;
  ok += await retryWithBackoff(async () => {
    attempts++;
    if (failures < 2) { failures++; throw new Error('x'); }
    return 1;
  }, { maxRetries: 3, baseDelay: 0 });
}

console.log(`retry-inline ${ok} ${attempts}`);
