// tls-echo: peer of bench/ebb/tls-echo.lua. 256 MiB echoed through a TLS
// connection over loopback in one process: the server (tls.createServer)
// pipes each socket into itself; the client (tls.connect, verifying the
// server against the test authority) writes one 64 KiB Buffer of random
// bytes 4,096 times, waiting for 'drain' when write() says so, while it
// reads the echo back and counts the bytes.
// Usage: node tls-echo.mjs DIR [MiB] (default 256).
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';

const dir = process.argv[2];
const CHUNK = 65536;
const total = Number(process.argv[3] ?? 256) * 1024 * 1024;
const chunk = randomBytes(CHUNK);

const server = tls.createServer(
  { cert: readFileSync(`${dir}/cert.pem`), key: readFileSync(`${dir}/key.pem`) },
  (sock) => { pipeline(sock, sock).catch((err) => { console.error(err); process.exit(1); }); });
server.listen(0, '127.0.0.1');
await once(server, 'listening');

const conn = tls.connect({ host: '127.0.0.1', servername: 'localhost', port: server.address().port,
  ca: readFileSync(`${dir}/ca.pem`) });
await once(conn, 'secureConnect');

const writer = (async () => {
  for (let i = 0; i < total / CHUNK; i++) {
    if (!conn.write(chunk)) await once(conn, 'drain');
  }
  conn.end();
})();

let got = 0;
for await (const c of conn) got += c.length;
await writer;
conn.destroy();
server.close();
console.log(`tls-echo ${got} ${got === total ? 'ok' : 'short'}`);
