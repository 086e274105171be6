// http-client: peer of bench/ebb/http-client.lua. N GETs (default 10,000) from
// a local server at URL, CONCURRENCY (default 64) at a time, each body read
// whole, with Node's global fetch (undici).
// Usage: node http-client.mjs URL [N] [CONCURRENCY]. Prints `http-client <n> <bytes>`.
const url = process.argv[2];
const total = Number(process.argv[3] ?? 10000);
const concurrency = Number(process.argv[4] ?? 64);

let started = 0;
let done = 0;
let bytes = 0;

async function worker() {
  while (started < total) {
    started++;
    const res = await fetch(url);
    if (res.status !== 200) throw new Error(`status ${res.status}`);
    bytes += (await res.text()).length;
    done++;
  }
}

await Promise.all(Array.from({ length: concurrency }, worker));
console.log(`http-client ${done} ${bytes}`);
