// events: peer of bench/ebb/events.lua. The guide writes emitter.on('data', handler,
// { signal }); Node's EventEmitter takes no options there, so the listener is
// removed by events.addAbortListener, as Node's docs show. Usage: node events.mjs [iterations]
import { EventEmitter, addAbortListener } from 'node:events';

const n = Number(process.argv[2] ?? 1_000_000);

const emitter = new EventEmitter(); // lives for the whole run
let sum = 0;

for (let i = 1; i <= n; i++) {
  const controller = new AbortController();
  const handler = (x) => { sum += x; };
  emitter.on('data', handler);
  addAbortListener(controller.signal, () => emitter.off('data', handler));
  emitter.emit('data', i);
  controller.abort();
}

console.log(`events ${n} ${sum} ${emitter.listenerCount('data')}`);
