// Memory leak fed outside requests: every request starts a setInterval (never cleared) that
// pushes a string into a module-level array every 100 ms. The request answers at once; its
// timer keeps feeding `auditLog` for ever.
// harness should conclude: a memory leak held by the variable `auditLog`, fed by the interval
// that `startAudit` starts (timer-feed.js:16), and the timers that pile up.
// Listens on $PORT (default 3030) on 127.0.0.1.
'use strict';
const http = require('node:http');

const port = Number(process.env.PORT) || 3030;
const auditLog = [];

function startAudit(id) {
  setInterval(() => {
    auditLog.push(`request ${id} still open at ${Date.now()}`);
  }, 100);
}

let next = 0;
http
  .createServer((req, res) => {
    startAudit(next++);
    res.setHeader('content-type', 'text/plain');
    res.end('ok\n');
  })
  .listen(port, '127.0.0.1', () => {
    console.log(`timer-feed server listening on http://127.0.0.1:${port}/`);
  });
