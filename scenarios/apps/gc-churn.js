// GC pressure: the app keeps a large, stable table of small objects (1.5 million, ~120 MB),
// and every request builds a batch of 20,000 records in makeBatch, kept as "the latest
// batch" for 50 ms (until the next request replaces it, or a timer drops it). Under load each
// batch lives long enough to be promoted to the old generation, where it dies: the old
// generation fills with garbage again and again, and every full collection has to mark the
// whole table too. Nothing is kept once the load stops.
// harness should conclude: GC pressure (a large share of the load's time in garbage
// collection), no leak; with the CPU trace, the garbage is named as allocated in makeBatch.
// Listens on $PORT (default 3030) on 127.0.0.1.
'use strict';
const http = require('node:http');

const port = Number(process.env.PORT) || 3030;
const table = [];
for (let i = 0; i < 1_500_000; i += 1) table.push({ id: i, parent: i >> 1, score: i % 97 });

function makeBatch(seed) {
  const batch = [];
  for (let i = 0; i < 20_000; i += 1) batch.push({ seed, i, label: `r${i}`, link: table[(seed + i) % table.length] });
  return batch;
}

let served = 0;
let latest = [];
http
  .createServer((req, res) => {
    served += 1;
    const batch = makeBatch(served);
    latest = batch;
    setTimeout(() => {
      if (latest === batch) latest = [];
    }, 50);
    res.setHeader('content-type', 'text/plain');
    res.end(`${batch.length} records\n`);
  })
  .listen(port, '127.0.0.1', () => {
    console.log(`gc-churn server listening on http://127.0.0.1:${port}/`);
  });
