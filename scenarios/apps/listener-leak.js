// Memory leak, "EventEmitter listener" shape: every request adds a listener with
// connector.on('connected', ...) and answers when the connector next emits (every 1000 ms,
// see lib/connector.js). The listener is never removed, so it keeps its closure (req, res and
// through them the socket state) alive forever, and every emit calls all listeners ever
// added: memory grows with the number of requests, and the time each emit blocks the event
// loop grows too. Latency is up to 1 s by design (a request waits for the next emit; ~1 s
// under a closed-model load, with throughput = connections per second).
// Old listeners fire again on every later emit, with a response that is already finished, so
// the handler returns early when res.writableEnded. Without that check, in Node 20,
// res.setHeader throws ERR_HTTP_HEADERS_SENT (an unhandled rejection in this async listener,
// which kills the process), and res.end(data) is a silent no-op once the response is destroyed
// (shortly after it finishes) but before that emits an ERR_STREAM_WRITE_AFTER_END 'error'
// that would also crash it.
// harness should conclude: a leak; memory and the listener count grow with requests, event
// loop delay grows over time, and Node's MaxListenersExceededWarning on stderr (its stack,
// under --trace-warnings, points at the connector.on line below) names the cause.
// See listener-fixed.js for the fix (connector.once).
// Listens on $PORT (default 3030) on 127.0.0.1.
'use strict';
const http = require('node:http');
const connector = require('./lib/connector');

const port = Number(process.env.PORT) || 3030;

function handleServer(req, res) {
  connector.on('connected', async (db) => {
    const value = await db.get();
    if (res.writableEnded) return; // this listener already answered on an earlier emit
    res.setHeader('content-type', 'text/plain');
    res.end(`${value}\n`);
  });
}

http.createServer(handleServer).listen(port, '127.0.0.1', () => {
  console.log(`listener-leak server listening on http://127.0.0.1:${port}/`);
});
