// semaphore: 1,000 async functions share 5 permits for 1,000,000
// acquire/yield/release cycles (the AsyncSemaphore of the patterns guide).
class AsyncSemaphore {
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

const TASKS = 1000, PERMITS = 5, CYCLES = 1000000;
const sem = new AsyncSemaphore(PERMITS);
const perTask = CYCLES / TASKS;
let done = 0;
const yieldNow = () => new Promise((r) => setImmediate(r));

async function worker() {
  for (let i = 0; i < perTask; i++) {
    await sem.acquire();
    await yieldNow();
    sem.release();
    done++;
  }
}

await Promise.all(Array.from({ length: TASKS }, worker));
console.log(`semaphore ${done}`);
