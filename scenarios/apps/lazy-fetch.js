// Not a leak: the first request uses the global `fetch` (to read its settings, here from a
// data: URL), which Node loads lazily (undici: 3-5 MB of code and state, kept for good).
// Every request then waits 40 ms (a stand-in for the downstream call it would make), so a
// short run has few requests to spread the one-off growth over.
// harness should conclude: no leak (memory grows once, in the first request, then stays);
// a heap trace on a fresh copy, warmed up, keeps next to nothing.
// Listens on $PORT (default 3030) on 127.0.0.1.
'use strict';
const http = require('node:http');

const port = Number(process.env.PORT) || 3030;
let settings = null;

async function loadSettings() {
  const response = await fetch('data:application/json,{"greeting":"ready"}');
  return response.json();
}

http
  .createServer((req, res) => {
    if (!settings) settings = loadSettings(); // the first request loads undici
    settings.then((loaded) => {
      setTimeout(() => {
        res.setHeader('content-type', 'text/plain');
        res.end(`${loaded.greeting}\n`);
      }, 40);
    });
  })
  .listen(port, '127.0.0.1', () => {
    console.log(`lazy-fetch server listening on http://127.0.0.1:${port}/`);
  });
