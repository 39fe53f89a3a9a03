// Not a leak: a table of 100 slots, each holding an array of random size (up to 20,000
// numbers). Requests pick a random slot and replace its array, so the table fills within the
// first second and then only changes what it holds: memory jumps at the start, then stays.
// harness should conclude: no leak (a plateau reached in the first second).
// Listens on $PORT (default 3030) on 127.0.0.1.
'use strict';
const http = require('node:http');

const port = Number(process.env.PORT) || 3030;
const SLOTS = 100;
const table = new Array(SLOTS).fill(null);

function refreshSlot() {
  const slot = Math.floor(Math.random() * SLOTS);
  const size = Math.floor(Math.random() * 20000);
  table[slot] = Array.from({ length: size }, (_, i) => i * 0.5);
  return slot;
}

http
  .createServer((req, res) => {
    const slot = refreshSlot();
    res.setHeader('content-type', 'text/plain');
    res.end(`slot ${slot}\n`);
  })
  .listen(port, '127.0.0.1', () => {
    console.log(`bounded-table server listening on http://127.0.0.1:${port}/`);
  });
