// A minimal Node.js HTTP server for trying harness: answers every request with "hello".
// Listens on $PORT (default 3030) on 127.0.0.1.
'use strict';
const http = require('node:http');

const port = Number(process.env.PORT) || 3030;
http
  .createServer((req, res) => {
    res.setHeader('content-type', 'text/plain');
    res.end('hello');
  })
  .listen(port, '127.0.0.1', () => {
    console.log(`hello server listening on http://127.0.0.1:${port}/`);
  });
