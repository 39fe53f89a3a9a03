// A hello server that ignores SIGINT (the handler only logs to stderr), and also SIGTERM
// when IGNORE_TERM=1: stopping it politely does not work.
// harness should conclude nothing about performance (it is a plain hello server); when it
// stops the target it must notice that the process is still alive after SIGINT and escalate
// to SIGTERM, and with IGNORE_TERM=1 to SIGKILL, within a bounded time.
// Listens on $PORT (default 3030) on 127.0.0.1.
'use strict';
const http = require('node:http');

const port = Number(process.env.PORT) || 3030;

process.on('SIGINT', () => {
  console.error('ignores-signals: got SIGINT, ignoring it');
});
if (process.env.IGNORE_TERM === '1') {
  process.on('SIGTERM', () => {
    console.error('ignores-signals: got SIGTERM, ignoring it');
  });
}

http
  .createServer((req, res) => {
    res.setHeader('content-type', 'text/plain');
    res.end('hello');
  })
  .listen(port, '127.0.0.1', () => {
    console.log(`ignores-signals server listening on http://127.0.0.1:${port}/`);
  });
