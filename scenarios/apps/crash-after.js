// An app that crashes under load: it answers the first $CRASH_AFTER requests (default 100;
// 0 makes the first request crash it) with "hello", then the next request throws an uncaught
// Error from the request handler, so the process prints the stack to stderr and exits with
// status 1 (requests in flight at that moment lose their connection).
// harness should conclude: the target died during the run (non-zero exit status, after about
// CRASH_AFTER requests), show the error and stack from stderr, and report the errors the
// load generator saw after that point instead of latency numbers for a dead server.
// Listens on $PORT (default 3030) on 127.0.0.1.
'use strict';
const http = require('node:http');

const port = Number(process.env.PORT) || 3030;
const crashAfterEnv = Number.parseInt(process.env.CRASH_AFTER ?? '', 10);
const crashAfter = Number.isInteger(crashAfterEnv) && crashAfterEnv >= 0 ? crashAfterEnv : 100;
let requests = 0;

function handle(req, res) {
  requests += 1;
  if (requests > crashAfter) {
    throw new Error(`simulated crash: request ${requests} after serving ${crashAfter}`);
  }
  res.setHeader('content-type', 'text/plain');
  res.end('hello');
}

http.createServer(handle).listen(port, '127.0.0.1', () => {
  console.log(`crash-after server listening on http://127.0.0.1:${port}/ (crashes after ${crashAfter} requests)`);
});
