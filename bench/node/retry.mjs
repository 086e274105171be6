// retry: 100,000 concurrent calls, each failing twice before it succeeds,
// retried with zero delay by the patterns guide's retryWithBackoff.
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
      await new Promise((resolve) => setTimeout(resolve, jittered));
    }
  }
  throw lastError;
};

const N = 100000;
let attempts = 0;
async function call() {
  let failures = 0;
  return retryWithBackoff(async () => {
    attempts++;
    if (failures < 2) { failures++; throw new Error('transient'); }
    return 1;
  }, { maxRetries: 3, baseDelay: 0 });
}
const results = await Promise.all(Array.from({ length: N }, call));
console.log(`retry ${results.reduce((a, b) => a + b, 0)} ${attempts}`);
