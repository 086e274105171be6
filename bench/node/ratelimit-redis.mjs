// ratelimit-redis: peer of bench/ebb/ratelimit-redis.lua with ioredis and the same
// GCRA script as ratelimit.redis. Usage: node ratelimit-redis.mjs PORT.
import { createRequire } from 'node:module';
import path from 'node:path';
const require = createRequire(path.resolve(process.env.NODE_PEERS ?? 'build/bench/node-peers', 'package.json'));
const Redis = require('ioredis');
const client = new Redis({ port: Number(process.argv[2]), host: '127.0.0.1' });
client.defineCommand('take', { numberOfKeys: 1, lua: `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval, tolerance, n, longest = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local tat = tonumber(redis.call('GET', KEYS[1]) or 0)
if tat < now then tat = now end
local after = tat + n * interval
local wait = after - tolerance - now
if wait < 0 then wait = 0 end
if longest >= 0 and wait > longest then return { -math.max(1, math.ceil(wait * 1000)), '' } end
local booked = string.format('%.3f', after)
redis.call('SET', KEYS[1], booked, 'PX', math.ceil(after - now) + 1)
return { math.ceil(wait * 1000), booked }` });
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
