// Not a leak: a large, stable heap. At start-up the app builds a 200 MB in-memory table
// (180,000 rows of 1 KB strings, as a catalogue or a reference data set would be), then
// answers every request with a lookup in it and allocates nothing that it keeps.
// harness should conclude: no leak, however large the heap; memory is flat under load.
// BIG_HEAP_MB sets the table's size (default 200).
// Listens on $PORT (default 3030) on 127.0.0.1.
'use strict';
const http = require('node:http');

const port = Number(process.env.PORT) || 3030;
const rows = Math.round((Number(process.env.BIG_HEAP_MB) || 200) * 900);
const table = new Map();
for (let i = 0; i < rows; i += 1) {
  // A flat 1,000-byte string per row (padEnd would share its filler between rows).
  table.set(i, Buffer.alloc(1000, 97 + (i % 26)).toString('latin1'));
}
let served = 0;

http
  .createServer((req, res) => {
    served += 1;
    const row = table.get(served % rows);
    res.setHeader('content-type', 'text/plain');
    res.end(`${row.length} bytes in row ${served % rows}\n`);
  })
  .listen(port, '127.0.0.1', () => {
    console.log(`big-heap server listening on http://127.0.0.1:${port}/ with ${rows} rows`);
  });
