// Not a leak: a bounded LRU cache of 10,000 entries of ~2 KB each (about 20 MB when full),
// keyed by a new term on every request (a per-request counter, as a load generator sends
// the same URL). The cache fills during the first 10,000 requests, then every insert evicts
// the least recently used entry: memory grows, then levels off.
// harness should conclude: no leak (a plateau: a bounded cache); with --heap, the heap
// trace names no code as leaking, although every entry it added is new and still alive.
// LRU_SIZE sets the bound (default 10000).
// Listens on $PORT (default 3030) on 127.0.0.1.
'use strict';
const http = require('node:http');

const port = Number(process.env.PORT) || 3030;
const bound = Number(process.env.LRU_SIZE) || 10000;
const cache = new Map(); // insertion order is recency order
let requests = 0;

function lookup(term) {
  let value = cache.get(term);
  if (value !== undefined) {
    cache.delete(term);
  } else {
    value = { term, body: `${term}:`.padEnd(2000, '#') };
    if (cache.size >= bound) cache.delete(cache.keys().next().value);
  }
  cache.set(term, value);
  return value;
}

http
  .createServer((req, res) => {
    requests += 1;
    const value = lookup(`term-${requests}`);
    res.setHeader('content-type', 'text/plain');
    res.end(`${value.body.length} bytes (${cache.size} cached)\n`);
  })
  .listen(port, '127.0.0.1', () => {
    console.log(`lru-cache server listening on http://127.0.0.1:${port}/`);
  });
