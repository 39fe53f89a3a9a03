// A blocked event loop from building a big response synchronously: every request renders a
// report of 40,000 rows with JSON.stringify (~4.5 MB of text, 20-30 ms here) before sending
// it. Streaming the rows, paginating, or caching the text would free the loop.
// harness should conclude: a blocked event loop; the CPU profile names JSON.stringify called
// from renderReport below.
// Listens on $PORT (default 3030) on 127.0.0.1.
'use strict';
const http = require('node:http');

const port = Number(process.env.PORT) || 3030;
const rows = [];
for (let i = 0; i < 40000; i += 1) {
  rows.push({ id: i, name: `item-${i}`, price: i * 1.5, tags: ['a', 'b', String(i % 7)], note: 'x'.repeat(40) });
}

function renderReport() {
  return JSON.stringify({ generated: Date.now(), count: rows.length, rows });
}

http
  .createServer((req, res) => {
    const body = renderReport();
    res.setHeader('content-type', 'application/json');
    res.end(`{"bytes":${body.length}}\n`);
  })
  .listen(port, '127.0.0.1', () => {
    console.log(`big-json server listening on http://127.0.0.1:${port}/`);
  });
