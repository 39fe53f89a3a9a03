// Not a leak: every request builds ~1 MB of short-lived objects (an array of 2,000 records,
// then its JSON text) and drops them once it has answered with the size of that text.
// harness should conclude: high allocation rate and frequent (mostly young-generation) GC,
// with GC taking a visible share of CPU time, but memory stays flat under sustained load and
// drops back after it: garbage, not a leak. Throughput is bounded by CPU (allocation and
// JSON.stringify).
// Listens on $PORT (default 3030) on 127.0.0.1.
'use strict';
const http = require('node:http');

const port = Number(process.env.PORT) || 3030;

function buildReport() {
  const rows = [];
  for (let i = 0; i < 2000; i += 1) {
    rows.push({ id: i, name: `item-${i}`, tags: ['a', 'b', String(i % 7)], price: i * 1.5, note: 'x'.repeat(40 + (i % 20)) });
  }
  return JSON.stringify(rows);
}

http
  .createServer((req, res) => {
    const json = buildReport();
    res.setHeader('content-type', 'text/plain');
    res.end(`report is ${json.length} bytes\n`);
  })
  .listen(port, '127.0.0.1', () => {
    console.log(`heavy-garbage server listening on http://127.0.0.1:${port}/`);
  });
