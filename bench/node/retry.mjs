// retry: 100,000 concurrent calls, each failing twice before it succeeds,
// retried with zero delay by the patterns guide's retryWithBackoff.
import { retryWithBackoff } from './guide.mjs';

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
