// lines-transform: peer of bench/ebb/lines-transform.lua. A 200 MB log split
// into lines by a hand-written Transform in a pipeline from createReadStream to
// a Writable that counts the lines by level. With "yield" as the second
// argument the sink waits a turn of the loop (setImmediate) every line.
// Usage: node lines-transform.mjs log [yield]
import { createReadStream } from 'node:fs';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const eachLine = process.argv[3] === 'yield';

let rest = '';
const split = new Transform({
  readableObjectMode: true,
  transform(chunk, _enc, cb) {
    const text = rest + chunk.toString('latin1');
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) break;
      this.push(text.slice(start, nl));
      start = nl + 1;
    }
    rest = text.slice(start);
    cb();
  },
  flush(cb) {
    if (rest !== '') this.push(rest);
    cb();
  },
});

const counts = {};
let n = 0;
const count = new Writable({
  objectMode: true,
  write(line, _enc, cb) {
    const level = /^\S+ (\w+)/.exec(line)[1];
    counts[level] = (counts[level] || 0) + 1;
    n++;
    if (eachLine) setImmediate(cb); else cb();
  },
});

await pipeline(createReadStream(process.argv[2]), split, count);
const { DEBUG, ERROR, INFO, WARN } = counts;
console.log(`lines ${n} DEBUG=${DEBUG} ERROR=${ERROR} INFO=${INFO} WARN=${WARN}`);
