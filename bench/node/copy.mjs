// copy: a file copied through a pass-through Transform with stream.pipeline
// (64 KiB chunks). Usage: copy.mjs from to
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';

const [from, to] = process.argv.slice(2);
await pipeline(
  createReadStream(from, { highWaterMark: 65536 }),
  new Transform({ transform(chunk, _enc, cb) { cb(null, chunk); } }),
  createWriteStream(to),
);
console.log(`copy ${statSync(to).size}`);
