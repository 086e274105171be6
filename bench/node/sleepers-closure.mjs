// sleepers-closure: 100,000 concurrent async closures, each sleeping (i % 100) ms
// (peer of bench/ebb/sleepers-closure.lua).
const N = 100_000;

const list = [];
for (let i = 1; i <= N; i++) {
  list.push((async () => { await new Promise((r) => setTimeout(r, i % 100)); })());
}
await Promise.all(list);

console.log(`sleepers-closure ${list.length}`);
