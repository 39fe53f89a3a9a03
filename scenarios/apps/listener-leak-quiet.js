// The article's listener leak as it wrote it: every request adds a listener with
// connector.on('connected', ...) on an emitter with setMaxListeners(0), so Node never warns;
// each request answers at the connector's next emit (every 1 s), and the listener, with the
// request and response it holds, is never removed.
// harness should conclude: a memory leak held by the event emitter `connector`, whose
// listeners are added at listener-leak-quiet.js:16, even in a short run that retains under
// 2 MiB (about 3.8 kB per request at 50 connections for 10 s).
// Listens on $PORT (default 3030) on 127.0.0.1.
'use strict';
const http = require('node:http');
const connector = require('./lib/quiet-connector');

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
  console.log(`listener-leak-quiet server listening on http://127.0.0.1:${port}/`);
});
