// echo: peer of bench/ebb/echo.lua. 1 GiB echoed over loopback TCP in one
// process: the server pipes each socket into itself (stream.pipeline); the
// client writes one 64 KiB Buffer of random bytes 16,384 times, waiting for
// 'drain' when write() says so, while it reads the echo back and counts the
// bytes.
// Usage: node echo.mjs [MiB] [DIR] (default 1024). With DIR (ca.pem, and
// cert.pem and key.pem for localhost) the connection is TLS (node:tls), the
// client verifying the server: the tls-echo workload.
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';

const CHUNK = 65536;
const total = Number(process.argv[2] ?? 1024) * 1024 * 1024;
const chunk = randomBytes(CHUNK);

const dir = process.argv[3];
const echo = (sock) => {
  pipeline(sock, sock).catch((err) => { console.error(err); process.exit(1); });
};
const server = dir
  ? tls.createServer({ cert: readFileSync(`${dir}/cert.pem`), key: readFileSync(`${dir}/key.pem`) }, echo)
  : net.createServer(echo);
server.listen(0, '127.0.0.1');
await once(server, 'listening');

const port = server.address().port;
const conn = dir
  ? tls.connect({ host: '127.0.0.1', servername: 'localhost', port, ca: readFileSync(`${dir}/ca.pem`) })
  : net.connect(port, '127.0.0.1');
await once(conn, dir ? 'secureConnect' : 'connect');

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
console.log(`echo ${got} ${got === total ? 'ok' : 'short'}`);
