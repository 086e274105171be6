// context: 1,000,000 als.run calls, each reading the store across one wait
// (setImmediate, the peer of task.yield); one function serves every call,
// as in bench/ebb/context.lua.
import { AsyncLocalStorage } from 'node:async_hooks';

const N = 1_000_000;
const als = new AsyncLocalStorage();

const body = async () => {
  await new Promise((r) => setImmediate(r));
  return als.getStore();
};

let sum = 0;
for (let i = 1; i <= N; i++) sum += await als.run(i, body);

console.log(`context ${N} ${sum}`);
