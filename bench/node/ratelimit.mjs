// ratelimit: the same as bench/ebb/ratelimit.lua with a GCRA limiter whose waiting
// takes are served in order (what ratelimit.new does), on setTimeout.
class RateLimiter {
  constructor({ rate, burst = 1, per = 1000 }) {
    this.interval = per / rate; this.tolerance = burst * this.interval;
    this.tat = -Infinity; this.waiters = []; this.timer = null;
  }
  #wait(n, now) { return Math.max(this.tat, now) + n * this.interval - this.tolerance - now; }
  #commit(n, now) { this.tat = Math.max(this.tat, now) + n * this.interval; }
  take(n = 1) {
    const now = performance.now();
    if (this.waiters.length === 0 && this.#wait(n, now) <= 1e-6) { this.#commit(n, now); return Promise.resolve(); }
    return new Promise((resolve) => { this.waiters.push({ n, resolve }); this.#pump(); });
  }
  #pump() {
    if (this.timer) return;
    while (this.waiters.length) {
      const now = performance.now(), w = this.waiters[0], ms = this.#wait(w.n, now);
      if (ms > 1e-6) { this.timer = setTimeout(() => { this.timer = null; this.#pump(); }, ms); return; }
      this.#commit(w.n, now); this.waiters.shift(); w.resolve();
    }
  }
}
const TASKS = 1000, TOKENS = 200000;
const limit = new RateLimiter({ rate: 100000, burst: 1000 });
let taken = 0;
async function worker() { for (let i = 0; i < TOKENS / TASKS; i++) { await limit.take(); taken++; } }
await Promise.all(Array.from({ length: TASKS }, worker));
console.log(`ratelimit ${taken}`);
