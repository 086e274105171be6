// json: an API response of 2,000 users (about 580 kB) decoded 200 times, then
// encoded 200 times, with JSON.parse and JSON.stringify. Usage: json.mjs file
import { readFileSync } from 'node:fs';

const text = readFileSync(process.argv[2], 'utf8');
const ROUNDS = 200;
let doc;
for (let i = 0; i < ROUNDS; i++) doc = JSON.parse(text);
let out;
for (let i = 0; i < ROUNDS; i++) out = JSON.stringify(doc);
const bytes = (s) => Buffer.byteLength(s);
console.log(`json ${doc.users.length} users, ${bytes(text)} bytes in, ${bytes(out)} bytes out`);
