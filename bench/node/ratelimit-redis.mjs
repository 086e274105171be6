// ratelimit-redis: peer of bench/ebb/ratelimit-redis.lua with ioredis and the same
// GCRA script as ratelimit.redis. Usage: node ratelimit-redis.mjs PORT.
import { createRequire } from 'node:module';
import path from 'node:path';
import fs from 'node:fs';
const require = createRequire(path.resolve(process.env.NODE_PEERS ?? 'build/bench/node-peers', 'package.json'));
const Redis = require('ioredis');
const client = new Redis({ port: Number(process.argv[2]), host: '127.0.0.1' });
// the script ratelimit.redis runs, read from its module (run from the repository's root)
const lua = fs.readFileSync('lua/ebb/ratelimit_redis.lua', 'utf8').match(/local TAKE = redis\.script \[\[\n([\s\S]*?)\]\]/)[1];
client.defineCommand('take', { numberOfKeys: 1, lua });
const interval = 1000 / 1e9, key = 'bench-' + Math.floor(Math.random() * 1e9);
async function take() {
  const [us] = await client.take(key, interval, interval * 1e6, 1, -1);
  if (us > 0) await new Promise((r) => setTimeout(r, us / 1000));
}
const TASKS = 1000, TOKENS = 50000;
let taken = 0;
await Promise.all(Array.from({ length: TASKS }, async () => { for (let i = 0; i < TOKENS / TASKS; i++) { await take(); taken++; } }));
console.log(`ratelimit-redis ${taken}`);
client.disconnect();
