// The patterns guide's AsyncSemaphore and retryWithBackoff, shared by the Node
// peers that use them. `wait(ms)` is the guide's setTimeout promise unless a
// peer gives its own.
export class AsyncSemaphore {
  #permits;
  #waiting = [];
  constructor(permits) { this.#permits = permits; }
  async acquire() {
    if (this.#permits > 0) { this.#permits--; return; }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }
  release() {
    const next = this.#waiting.shift();
    if (next) next(); else this.#permits++;
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export const retryWithBackoff = async (fn, {
  maxRetries = 3, baseDelay = 1000, maxDelay = 30_000, signal, shouldRetry = () => true, wait = sleep,
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
      await wait(jittered);
    }
  }
  throw lastError;
};
