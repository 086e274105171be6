// worker-dispatch: trivial jobs through a pool of 2 worker_threads (postMessage
// both ways, a queue of waiting jobs), all started at once, then awaited.
// Usage: worker-dispatch.mjs [jobs] (default 100,000).
import { Worker } from "node:worker_threads";

const src = `
const { parentPort } = require("node:worker_threads");
parentPort.on("message", ({ id, i }) => parentPort.postMessage({ id, r: i + 1 }));
`;

class Pool {
  #idle = [];
  #waiting = [];
  #pending = new Map();
  #next = 0;
  constructor(size) {
    for (let k = 0; k < size; k++) {
      const w = new Worker(src, { eval: true });
      w.on("message", ({ id, r }) => {
        this.#pending.get(id)(r);
        this.#pending.delete(id);
        const job = this.#waiting.shift();
        if (job) this.#send(w, job);
        else this.#idle.push(w);
      });
      this.#idle.push(w);
    }
    this.workers = [...this.#idle];
  }
  #send(w, { i, resolve }) {
    const id = this.#next++;
    this.#pending.set(id, resolve);
    w.postMessage({ id, i });
  }
  run(i) {
    return new Promise((resolve) => {
      const w = this.#idle.pop();
      if (w) this.#send(w, { i, resolve });
      else this.#waiting.push({ i, resolve });
    });
  }
  close() { return Promise.all(this.workers.map((w) => w.terminate())); }
}

const n = Number(process.argv[2] ?? 100000);
const pool = new Pool(2);
let sum = 0;
const all = [];
for (let i = 1; i <= n; i++) all.push(pool.run(i).then((r) => { sum += r; }));
await Promise.all(all);
await pool.close();
console.log(`worker-dispatch ${n} ${sum}`);
