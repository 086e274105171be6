// The server both http-client peers fetch from (started by bench/run): a
// Node http server on 127.0.0.1, port chosen by the system and printed, that
// answers every request with a small JSON body (keep-alive).
import http from 'node:http';

const body = JSON.stringify({ ok: true, items: [1, 2, 3], name: 'bench' });
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
process.on('SIGTERM', () => process.exit(0));
