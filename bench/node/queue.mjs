// queue: trivial jobs through the patterns guide's AsyncQueue (concurrency 64),
// all started at once, then awaited. Usage: queue.mjs [jobs] (default 1,000,000).
class AsyncQueue {
  #queue = [];
  #running = 0;
  #concurrency;
  constructor(concurrency = 3) { this.#concurrency = concurrency; }
  async run(fn) {
    while (this.#running >= this.#concurrency) {
      await new Promise((resolve) => this.#queue.push(resolve));
    }
    this.#running++;
    try { return await fn(); }
    finally {
      this.#running--;
      this.#queue.shift()?.();
    }
  }
}

const n = Number(process.argv[2] ?? 1000000);
const q = new AsyncQueue(64);
let done = 0;
const job = async () => { done++; };
const all = [];
for (let i = 0; i < n; i++) all.push(q.run(job));
await Promise.all(all);
console.log(`queue ${n} ${done}`);
