// Memory leak, "closures" shape: every request registers a shutdown hook, a closure that
// would write the request's details to a log when the server stops, in a module-level array
// that is only drained at shutdown. The server never stops under load, so every request
// leaves one closure behind, and with it the details object it closes over (~1 KB).
// harness should conclude: a leak on the JS heap of about 1 KB per request; the heap trace
// names the closure's function (flushRequestLog) and the variable that holds the array
// (shutdownHooks).
// Listens on $PORT (default 3030) on 127.0.0.1.
'use strict';
const http = require('node:http');

const port = Number(process.env.PORT) || 3030;
const shutdownHooks = [];
let served = 0;

function onShutdown(hook) {
  shutdownHooks.push(hook);
}

http
  .createServer((req, res) => {
    served += 1;
    const details = { n: served, url: req.url, at: Date.now(), note: `request ${served} `.padEnd(900, '.') };
    onShutdown(function flushRequestLog() {
      process.stdout.write(`${details.n} ${details.url} ${details.at}\n`);
    });
    res.setHeader('content-type', 'text/plain');
    res.end(`ok ${served}\n`);
  })
  .listen(port, '127.0.0.1', () => {
    console.log(`closure-leak server listening on http://127.0.0.1:${port}/`);
  });

process.on('SIGINT', () => {
  for (const hook of shutdownHooks.splice(0, 10)) hook();
  process.exit(0);
});
