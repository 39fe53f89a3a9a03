// A leaking app that cannot be started twice: at start-up it creates a lock file
// (LOCK_FILE, default single-instance.lock in the OS's temporary directory) and refuses to
// start when one exists; it never removes it (a bug of its own). Every request stores a
// ~2 KB session in a module-level Map that is never pruned, as session-leak.js does.
// harness should conclude: a memory leak; the heap trace, which needs a second copy of the
// app, says in one warning line that the second copy did not start, and the measured result
// and its verdict stand.
// Listens on $PORT (default 3030) on 127.0.0.1.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');

const port = Number(process.env.PORT) || 3030;
const lock = process.env.LOCK_FILE || path.join(os.tmpdir(), 'single-instance.lock');
try {
  fs.writeFileSync(lock, String(process.pid), { flag: 'wx' });
} catch (err) {
  console.error(`another instance holds ${lock} (${err.code}): refusing to start`);
  process.exit(1);
}
const sessions = new Map();
let served = 0;

http
  .createServer((req, res) => {
    served += 1;
    sessions.set(served, { id: served, data: `session-${served}:`.padEnd(2000, '=') });
    res.setHeader('content-type', 'text/plain');
    res.end(`session ${served}\n`);
  })
  .listen(port, '127.0.0.1', () => {
    console.log(`single-instance server listening on http://127.0.0.1:${port}/ (lock ${lock})`);
  });
