// Memory leak, "cached objects" shape (memoisation without a bound): computeTerm(term)
// memoises a 1 KB Buffer as a property of the function object itself, and every request
// uses a new term. A load generator sends the same URL every time, so the term is a
// per-request counter here (in real code it would be a user id, a query string, ...).
// Every request leaves one more 1 KB Buffer reachable from computeTerm forever.
// harness should conclude: memory (RSS, heap and external/ArrayBuffer memory) grows steadily
// with the number of requests and is not given back after the load stops; GC runs more and
// more often without freeing anything; the retained objects are Buffers held by
// computeTerm. See cache-fixed.js for the same app with a bounded cache.
// Listens on $PORT (default 3030) on 127.0.0.1.
'use strict';
const http = require('node:http');

const port = Number(process.env.PORT) || 3030;
let requests = 0;

function computeTerm(term) {
  return computeTerm[term] || (computeTerm[term] = compute());

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
    console.log(`cache-leak server listening on http://127.0.0.1:${port}/`);
  });
