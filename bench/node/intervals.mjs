// intervals: 1,000 setIntervals of 10 ms, each cleared after its 100th call
// (100,000 calls over about a second), all awaited (peer of bench/ebb/intervals.lua).
const N = 1_000, CALLS = 100;

let calls = 0;
const list = [];
for (let i = 0; i < N; i++) {
  list.push(new Promise((resolve) => {
    let n = 0;
    const h = setInterval(() => {
      calls++;
      if (++n === CALLS) { clearInterval(h); resolve(); }
    }, 10);
  }));
}
await Promise.all(list);

console.log(`intervals ${calls}`);
