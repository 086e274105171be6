// abort-any: peer of bench/ebb/abort-any.lua. Usage: node abort-any.mjs [iterations]
const n = Number(process.argv[2] ?? 100_000);

const parent = new AbortController();
let fired = 0;

for (let i = 1; i <= n; i++) {
  const c = new AbortController();
  const s = AbortSignal.any([parent.signal, c.signal]);
  const onAbort = () => { fired++; };
  s.addEventListener('abort', onAbort);
  if (i % 2 === 0) {
    c.abort();
  } else {
    s.removeEventListener('abort', onAbort);
  }
}

console.log(`abort-any ${n} ${fired}`);
