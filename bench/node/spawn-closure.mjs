// spawn-closure: 1,000,000 async closures, each made inline, started and
// awaited in batches of 1,000 (peer of bench/ebb/spawn-closure.lua).
const N = 1_000_000, BATCH = 1000;

let count = 0, sum = 0;
for (let base = 0; base < N; base += BATCH) {
  const list = [];
  for (let j = 1; j <= BATCH; j++) {
    const i = base + j;
    list.push((async () => i + 1)());
  }
  for (let j = 0; j < BATCH; j++) sum += await list[j];
  count += BATCH;
}

console.log(`spawn-closure ${count} ${sum}`);
