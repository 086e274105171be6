// semaphore-closure: 1,000 async closures share 5 permits for 1,000,000
// acquire/wait/release cycles (the patterns guide's AsyncSemaphore; peer of
// bench/ebb/semaphore-closure.lua). The wait while holding the permit is
// `await null` (a microtask) or, with the argument "immediate", setImmediate
// (a turn of the loop, as task.yield is).
import { AsyncSemaphore } from './guide.mjs';

const immediate = process.argv[2] === 'immediate';
const TASKS = 1000, PERMITS = 5, CYCLES = 1000000;
const sem = new AsyncSemaphore(PERMITS);
let done = 0;

const list = [];
for (let i = 0; i < TASKS; i++) {
  list.push((async () => {
    for (let n = 0; n < CYCLES / TASKS; n++) {
      await sem.acquire();
      if (immediate) await new Promise((r) => setImmediate(r));
      else await null;
      sem.release();
      done++;
    }
  })());
}
await Promise.all(list);
console.log(`semaphore-closure ${done}`);
