// The fix for listener-leak.js: each request waits for the connector's next 'connected' event
// (emitted every 1000 ms, see lib/connector.js) with connector.once, so the listener is
// removed as soon as it has fired. Latency is still up to 1 s by design.
// With more than 10 requests waiting at once Node still prints MaxListenersExceededWarning
// (the default limit counts listeners present at the same time, not leaked ones), and it
// prints it again after every emit: once the listeners are all removed, the next batch
// starts a new listener array whose "already warned" flag is unset. So under load this fixed
// app warns about once a second, while listener-leak.js warns only once. The listener count
// drops back to zero on every emit.
// harness should conclude: no leak, despite the warnings (a warning is a hint, not proof);
// memory levels off under sustained load and the event loop stays responsive. Latency is
// ~1 s and throughput is (connections) requests per second under a closed-model load (every
// connection sends its next request right after an emit, so it waits a whole period); that
// is the 1 s emit period, not a busy server (CPU stays low).
// Listens on $PORT (default 3030) on 127.0.0.1.
'use strict';
const http = require('node:http');
const connector = require('./lib/connector');

const port = Number(process.env.PORT) || 3030;

function handleServer(req, res) {
  connector.once('connected', async (db) => {
    const value = await db.get();
    res.setHeader('content-type', 'text/plain');
    res.end(`${value}\n`);
  });
}

http.createServer(handleServer).listen(port, '127.0.0.1', () => {
  console.log(`listener-fixed server listening on http://127.0.0.1:${port}/`);
});
