// The ES module version of hello.js: a minimal Node.js HTTP server that answers every request
// with "hello".
// harness should conclude: nothing is wrong (same as hello.js); it must start and profile an
// .mjs entry point the same way as a CommonJS one.
// Listens on $PORT (default 3030) on 127.0.0.1.
import http from 'node:http';

const port = Number(process.env.PORT) || 3030;
http
  .createServer((req, res) => {
    res.setHeader('content-type', 'text/plain');
    res.end('hello');
  })
  .listen(port, '127.0.0.1', () => {
    console.log(`hello.mjs server listening on http://127.0.0.1:${port}/`);
  });
