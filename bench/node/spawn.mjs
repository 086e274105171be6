// spawn: 1,000,000 async calls, awaited in batches of 1,000 (peer of bench/ebb/spawn.lua).
const N = 1_000_000, BATCH = 1000;

async function f(i) { return i + 1; }

let count = 0, sum = 0;
for (let base = 0; base < N; base += BATCH) {
  const list = [];
  for (let j = 1; j <= BATCH; j++) list.push(f(base + j));
  const results = await Promise.all(list);
  for (const r of results) sum += r;
  count += results.length;
}

console.log(`spawn ${count} ${sum}`);
