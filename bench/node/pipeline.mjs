// pipeline: peer of bench/ebb/pipeline.lua. 1 GiB through
// stream.pipeline(source, one Transform, sink): the source (a Readable) makes
// a fresh 64 KiB Buffer each time (a 16-digit counter, then a fixed filler);
// the Transform counts the bytes and passes each chunk on; the sink is
// createWriteStream('/dev/null'). Usage: node pipeline.mjs [MiB] (default 1024).
import { createWriteStream } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const CHUNK = 65536;
const total = Number(process.argv[2] ?? 1024) * 1024 * 1024;
const filler = Buffer.alloc(CHUNK - 16, 'x');

let made = 0;
const source = new Readable({
  highWaterMark: CHUNK,
  read() {
    if (made >= total) { this.push(null); return; }
    made += CHUNK;
    const buf = Buffer.allocUnsafe(CHUNK);
    buf.write(made.toString(16).padStart(16, '0'), 0, 'latin1');
    filler.copy(buf, 16);
    this.push(buf);
  },
});

let counted = 0;
const count = new Transform({
  transform(chunk, _enc, cb) {
    counted += chunk.length;
    cb(null, chunk);
  },
});

const sink = createWriteStream('/dev/null');
await pipeline(source, count, sink);
console.log(`pipeline ${counted} ${sink.bytesWritten}`);
