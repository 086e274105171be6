// http-server: peer of bench/ebb/http-server.lua. http.createServer answering
// every request with the same small JSON body and Content-Type. Prints the
// port it listens on, then serves until stopped (bench/run sends SIGTERM).
// Usage: node http-server.mjs [port] (default 0: the system picks one)
import http from 'node:http';
import { once } from 'node:events';

const server = http.createServer((req, res) => {
  res.setHeader('Content-Type', 'application/json');
  res.end(JSON.stringify({ message: 'Hello, World!' })); // encoded for each request, as an API does
});
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1');
await once(server, 'listening');
console.log(server.address().port);
