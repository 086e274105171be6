// redis_semaphore: peer of bench/ebb/redis_semaphore.lua with npm's redis-semaphore
// (on ioredis, under build/bench/node-peers). Usage: node redis_semaphore.mjs PORT MODE.
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(path.resolve(process.env.NODE_PEERS ?? 'build/bench/node-peers', 'package.json'));
const Redis = require('ioredis');
const { Semaphore } = require('redis-semaphore');

const port = Number(process.argv[2]);
const mode = process.argv[3] ?? 'alone';
const client = new Redis({ port, host: '127.0.0.1' });
let holding = 0, peak = 0;

// one Semaphore object per holder, as redis-semaphore wants; waiters retry every 10 ms
async function cycle() {
  const sem = new Semaphore(client, 'bench:' + mode, 2, { acquireTimeout: 600000 });
  await sem.acquire();
  holding++;
  if (holding > peak) peak = holding;
  await new Promise((r) => setImmediate(r));
  holding--;
  await sem.release();
}

if (mode === 'alone') {
  for (let i = 0; i < 2000; i++) await cycle();
} else {
  await Promise.all(Array.from({ length: 8 }, async () => { for (let i = 0; i < 250; i++) await cycle(); }));
}
console.log(`redis_semaphore ${mode} ${peak}`);
client.disconnect();
