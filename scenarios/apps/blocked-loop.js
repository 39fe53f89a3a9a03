// A CPU-bound app: every request spins for ~20 ms of synchronous work (a busy loop on
// process.hrtime) before answering, so the event loop is blocked while it runs and requests
// are served one at a time: at most ~50 requests per second whatever the concurrency.
// harness should conclude: the process is CPU-bound on one core (~100% CPU), throughput is
// capped near 1000 / 20 = 50 req/s, latency grows with the number of connections (queueing),
// event loop delay is high, and the CPU profile points at busyWork below.
// WORK_MS sets the work per request (default 20): at 80 ms and 100 connections, requests
// queue for 8 s, and with a shorter --timeout they time out because of the blocked loop.
// Listens on $PORT (default 3030) on 127.0.0.1.
'use strict';
const http = require('node:http');

const port = Number(process.env.PORT) || 3030;
const WORK_NS = BigInt(Math.round((Number(process.env.WORK_MS) || 20) * 1e6)); // 20 ms

function busyWork() {
  const end = process.hrtime.bigint() + WORK_NS;
  let spins = 0;
  while (process.hrtime.bigint() < end) spins += 1;
  return spins;
}

http
  .createServer((req, res) => {
    const spins = busyWork();
    res.setHeader('content-type', 'text/plain');
    res.end(`spun ${spins} times\n`);
  })
  .listen(port, '127.0.0.1', () => {
    console.log(`blocked-loop server listening on http://127.0.0.1:${port}/`);
  });
