// lines: a 200 MB log read line by line with readline over createReadStream,
// its lines counted by level (the second field). Usage: lines.mjs log
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

const rl = createInterface({ input: createReadStream(process.argv[2]), crlfDelay: Infinity });
const counts = {};
let n = 0;
for await (const line of rl) {
  const level = /^\S+ (\w+)/.exec(line)[1];
  counts[level] = (counts[level] || 0) + 1;
  n++;
}
const { DEBUG, ERROR, INFO, WARN } = counts;
console.log(`lines ${n} DEBUG=${DEBUG} ERROR=${ERROR} INFO=${INFO} WARN=${WARN}`);
