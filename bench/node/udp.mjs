// udp: peer of bench/ebb/udp.lua. 100,000 ping-pongs over loopback UDP in one
// process: the server sends back each datagram from its 'message' handler; the
// client sends a 64-byte ping and awaits its pong ('message'), one at a time.
// Usage: node udp.mjs [count] (default 100000).
import dgram from 'node:dgram';
import { once } from 'node:events';

const count = Number(process.argv[2] ?? 100000);
const ping = Buffer.alloc(64, 'p');

const server = dgram.createSocket('udp4');
server.on('message', (msg, rinfo) => server.send(msg, rinfo.port, rinfo.address));
server.bind(0, '127.0.0.1');
await once(server, 'listening');
const port = server.address().port;

const client = dgram.createSocket('udp4');
client.bind(0, '127.0.0.1');
await once(client, 'listening');
let pongs = 0;
for (let i = 0; i < count; i++) {
  client.send(ping, port, '127.0.0.1');
  const [reply] = await once(client, 'message');
  if (reply.equals(ping)) pongs++;
}
client.close();
server.close();
console.log(`udp ${pongs} pongs ${pongs === count ? 'ok' : 'short'}`);
