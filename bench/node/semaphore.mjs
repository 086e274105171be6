// semaphore: 1,000 async functions share 5 permits for 1,000,000
// acquire/yield/release cycles (the AsyncSemaphore of the patterns guide).
import { AsyncSemaphore } from './guide.mjs';

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
