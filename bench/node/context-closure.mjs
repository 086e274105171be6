// context-closure: 1,000,000 als.run calls, each with a new store object and an
// inline async function that reads it across one wait (setImmediate)
// (peer of bench/ebb/context-closure.lua).
import { AsyncLocalStorage } from 'node:async_hooks';

const N = 1_000_000;
const als = new AsyncLocalStorage();

let sum = 0;
for (let i = 1; i <= N; i++) {
  sum += await als.run({ id: i }, async () => {
    await new Promise((r) => setImmediate(r));
    return als.getStore().id;
  });
}

console.log(`context-closure ${N} ${sum}`);
