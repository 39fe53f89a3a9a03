// A hello server that starts two processes outside its process group, as real servers do:
// a `detached: true` child (its own session and group, still a child of the server) and a
// double-forked daemon (a shell starts it under setsid and exits, so its parent is gone).
// Both run lib/child-worker.js, which never exits by itself. The server prints
// "detached pid N" and "daemon pid M" on stdout.
// harness should conclude: signalling the target's group misses both; at stop it must find
// and stop them by pid, name them in the result (target.leftGroup), and leave nothing behind.
// Listens on $PORT (default 3030) on 127.0.0.1.
'use strict';
const http = require('node:http');
const path = require('node:path');
const { spawn, execFileSync } = require('node:child_process');

const port = Number(process.env.PORT) || 3030;
const worker = path.join(__dirname, 'lib', 'child-worker.js');

const detached = spawn(process.execPath, [worker], { detached: true, stdio: 'ignore' });
detached.unref();
console.log(`detached pid ${detached.pid}`);

// `setsid` in a background job of a non-interactive shell execs in place, so $! is the
// daemon's own pid; the shell exits at once and the daemon loses its parent.
const daemon = execFileSync('sh', [
  '-c',
  `setsid "${process.execPath}" "${worker}" </dev/null >/dev/null 2>&1 & echo $!`,
])
  .toString()
  .trim();
console.log(`daemon pid ${daemon}`);

http
  .createServer((req, res) => {
    res.setHeader('content-type', 'text/plain');
    res.end('hello');
  })
  .listen(port, '127.0.0.1', () => {
    console.log(`leaves-group server listening on http://127.0.0.1:${port}/`);
  });
