// An I/O-bound app: every request waits 50 ms on a timer (standing in for a slow database
// query) before answering. The event loop is free meanwhile, so requests overlap.
// harness should conclude: latency is ~50 ms at every concurrency, throughput scales with
// the number of connections (about connections x 20 req/s), CPU stays low and the event loop
// is not blocked: the server is waiting, not working (the bottleneck is downstream).
// Listens on $PORT (default 3030) on 127.0.0.1.
'use strict';
const http = require('node:http');

const port = Number(process.env.PORT) || 3030;

function slowQuery(callback) {
  setTimeout(() => callback(null, { rows: 1 }), 50);
}

http
  .createServer((req, res) => {
    slowQuery((err, result) => {
      res.setHeader('content-type', 'text/plain');
      res.end(`rows: ${result.rows}\n`);
    });
  })
  .listen(port, '127.0.0.1', () => {
    console.log(`slow-io server listening on http://127.0.0.1:${port}/`);
  });
