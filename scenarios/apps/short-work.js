// A server at capacity, not a blocked one: every request does ~1 ms of synchronous work
// (scoring 2,000 items), short enough never to hold the event loop long, but at 100
// connections a hundred of them queue behind each other and the loop is always busy.
// harness should conclude: the server is at capacity (about 1 ms of CPU per request, the
// loop ~100 % busy, requests queued), not a blocked loop; the CPU profile names scoreItems.
// Listens on $PORT (default 3030) on 127.0.0.1.
'use strict';
const http = require('node:http');

const port = Number(process.env.PORT) || 3030;
const items = Array.from({ length: 2000 }, (_, i) => ({ id: i, weight: (i * 7919) % 1000 }));

function scoreItems(query) {
  let best = 0;
  for (let round = 0; round < 70; round += 1) {
    for (const item of items) {
      const score = Math.sqrt(item.weight * (query + round + 1)) % 97;
      if (score > best) best = score;
    }
  }
  return best;
}

let served = 0;
http
  .createServer((req, res) => {
    served += 1;
    const best = scoreItems(served % 100);
    res.setHeader('content-type', 'text/plain');
    res.end(`best ${best.toFixed(2)}\n`);
  })
  .listen(port, '127.0.0.1', () => {
    console.log(`short-work server listening on http://127.0.0.1:${port}/`);
  });
