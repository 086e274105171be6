// worker-cpu: a CPU-bound job over N items (a linear congruential hash of each
// item, 20,000,000 steps) on a pool of `size` worker_threads, all items queued at
// once. Usage: worker-cpu.mjs [size] [items] (default 2, 16).
import { Worker } from "node:worker_threads";

const src = `
const { parentPort } = require("node:worker_threads");
parentPort.on("message", ({ id, seed }) => {
  let x = seed;
  for (let k = 0; k < 20000000; k++) x = (x * 1103515245 + 12345) % 2147483648;
  parentPort.postMessage({ id, r: x });
});
`;

const size = Number(process.argv[2] ?? 2);
const n = Number(process.argv[3] ?? 16);
const idle = [], waiting = [], pending = new Map();
let next = 0;
const send = (w, { seed, resolve }) => {
  const id = next++;
  pending.set(id, resolve);
  w.postMessage({ id, seed });
};
const workers = [];
for (let k = 0; k < size; k++) {
  const w = new Worker(src, { eval: true });
  w.on("message", ({ id, r }) => {
    pending.get(id)(r);
    pending.delete(id);
    const job = waiting.shift();
    if (job) send(w, job);
    else idle.push(w);
  });
  idle.push(w);
  workers.push(w);
}
const run = (seed) => new Promise((resolve) => {
  const w = idle.pop();
  if (w) send(w, { seed, resolve });
  else waiting.push({ seed, resolve });
});
const results = await Promise.all(Array.from({ length: n }, (_, i) => run(i + 1)));
await Promise.all(workers.map((w) => w.terminate()));
let check = 0;
for (const r of results) check = (check + r) % 2147483648;
console.log(`worker-cpu ${n} ${check}`);
