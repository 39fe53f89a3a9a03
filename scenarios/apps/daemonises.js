// A server that daemonises at start, like nginx or redis by default: the process harness
// starts launches a copy of itself in a new session, prints "daemon pid N", and exits 0;
// the copy listens.
// harness should conclude: the target is not running in the foreground. It must say so
// (not only "exited before it was ready"), name the pid it left, stop that process, and
// exit 3 with nothing left behind.
// Listens on $PORT (default 3030) on 127.0.0.1.
'use strict';
const http = require('node:http');
const { spawn } = require('node:child_process');

const port = Number(process.env.PORT) || 3030;

if (process.env.DAEMONISED !== '1') {
  const copy = spawn(process.execPath, [__filename], {
    detached: true,
    stdio: 'ignore',
    env: { ...process.env, DAEMONISED: '1' },
  });
  copy.unref();
  console.log(`daemon pid ${copy.pid}`);
  process.exit(0);
}

http
  .createServer((req, res) => res.end('hello'))
  .listen(port, '127.0.0.1');
