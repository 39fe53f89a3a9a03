// The fix for cache-leak.js: the same memoised computeTerm(term), with a new term on every
// request (a per-request counter, since a load generator sends the same URL every time),
// but the cache is a small hand-written LRU of 50 entries (a Map, whose iteration order is
// insertion order: a hit moves the key to the end, and inserting past the bound evicts the
// first key, the least recently used). Each request still allocates a 1 KB Buffer, but only
// the 50 newest stay reachable.
// harness should conclude: no leak; memory rises a little at the start of the load, then
// stays flat while the load goes on (the allocations are short-lived garbage that GC frees).
// Listens on $PORT (default 3030) on 127.0.0.1.
'use strict';
const http = require('node:http');

const port = Number(process.env.PORT) || 3030;
let requests = 0;

class LRU {
  constructor(max) {
    this.max = max;
    this.map = new Map();
  }

  has(key) {
    return this.map.has(key);
  }

  get(key) {
    if (!this.map.has(key)) return undefined;
    const value = this.map.get(key);
    this.map.delete(key); // move to the most recently used end
    this.map.set(key, value);
    return value;
  }

  set(key, value) {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.max) {
      this.map.delete(this.map.keys().next().value); // evict the least recently used
    }
  }
}

const computeCache = new LRU(50); // at most 50 items

function computeTerm(term) {
  if (!computeCache.has(term)) {
    computeCache.set(term, compute());
  }
  return computeCache.get(term);

  function compute() {
    // do some calculations with the term
    return Buffer.alloc(1e3); // 1 KB
  }
}

http
  .createServer((req, res) => {
    requests += 1;
    const value = computeTerm(`term-${requests}`); // unique per request: never a cache hit
    res.setHeader('content-type', 'text/plain');
    res.end(`computed ${value.length} bytes\n`);
  })
  .listen(port, '127.0.0.1', () => {
    console.log(`cache-fixed server listening on http://127.0.0.1:${port}/`);
  });
