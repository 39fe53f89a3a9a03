// The fix for listener-leak.js: each request waits for the connector's next 'connected' event
// (emitted every 1000 ms, see lib/connector.js) with connector.once, so the listener is
// removed as soon as it has fired. Latency is still up to 1 s by design.
// With more than 10 requests waiting at once Node still prints one
// MaxListenersExceededWarning (the default limit counts listeners present at the same time,
// not leaked ones), but the listener count drops back to zero on every emit.
// harness should conclude: no leak; memory stays flat under sustained load and the event loop
// stays responsive; latency is about 0.5 s on average because of the 1 s emit period, not
// because the server is busy (CPU stays low).
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
