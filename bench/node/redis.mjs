// redis: peer of bench/ebb/redis.lua with ioredis (installed by bench/run under
// build/bench/node-peers). Usage: node redis.mjs PORT MODE.
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(path.resolve(process.env.NODE_PEERS ?? 'build/bench/node-peers', 'package.json'));
const Redis = require('ioredis');

const port = Number(process.argv[2]);
const mode = process.argv[3] ?? 'roundtrip';
const client = new Redis({ port, host: '127.0.0.1' });
let ok = 0;

if (mode === 'roundtrip') {
  for (let i = 1; i <= 20000; i++) {
    await client.set('k' + (i % 100), i);
    if ((await client.get('k' + (i % 100))) === String(i)) ok++;
  }
} else if (mode === 'concurrent') {
  await client.set('shared', 'value');
  const tasks = [];
  for (let t = 0; t < 64; t++) {
    tasks.push((async () => {
      let n = 0;
      for (let j = 0; j < 200000 / 64; j++) if ((await client.get('shared')) === 'value') n++;
      return n;
    })());
  }
  for (const n of await Promise.all(tasks)) ok += n;
} else if (mode === 'pipeline') {
  for (let b = 1; b <= 200; b++) {
    const p = client.pipeline();
    for (let i = 1; i <= 1000; i++) p.set('p' + i, b);
    for (const [err, r] of await p.exec()) if (!err && r === 'OK') ok++;
  }
}
await client.quit();
console.log(`redis ${mode} ${ok}`);
