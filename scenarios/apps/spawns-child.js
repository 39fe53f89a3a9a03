// A hello server that forks a child Node process (lib/child-worker.js) which stays alive and
// allocates memory on its own. The child is not detached: it is in the server's process
// group. The server prints "child pid N" on stdout. The child keeps running if only the
// server's pid is killed (it does not exit when its parent dies).
// harness should conclude: the target is a process tree; the memory and CPU it reports should
// include (or at least mention) the child, and when it stops the target it must stop the
// whole process group, leaving no orphaned child behind.
// Listens on $PORT (default 3030) on 127.0.0.1.
'use strict';
const http = require('node:http');
const path = require('node:path');
const { fork } = require('node:child_process');

const port = Number(process.env.PORT) || 3030;

const child = fork(path.join(__dirname, 'lib', 'child-worker.js'));
console.log(`child pid ${child.pid}`);

http
  .createServer((req, res) => {
    res.setHeader('content-type', 'text/plain');
    res.end('hello');
  })
  .listen(port, '127.0.0.1', () => {
    console.log(`spawns-child server listening on http://127.0.0.1:${port}/`);
  });
