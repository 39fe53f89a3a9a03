// A blocked event loop from synchronous crypto: every request checks a password with
// crypto.pbkdf2Sync (100,000 rounds of SHA-512, ~40 ms here), which runs on the main thread
// and holds the event loop for the whole time. The async crypto.pbkdf2 would run it on the
// libuv thread pool instead.
// harness should conclude: a blocked event loop; the CPU profile names pbkdf2Sync (node:crypto)
// called from verifyPassword below.
// Listens on $PORT (default 3030) on 127.0.0.1.
'use strict';
const http = require('node:http');
const crypto = require('node:crypto');

const port = Number(process.env.PORT) || 3030;
const salt = crypto.randomBytes(16);
const stored = crypto.pbkdf2Sync('correct horse battery staple', salt, 100_000, 64, 'sha512');

function verifyPassword(password) {
  const hash = crypto.pbkdf2Sync(password, salt, 100_000, 64, 'sha512');
  return crypto.timingSafeEqual(hash, stored);
}

http
  .createServer((req, res) => {
    const ok = verifyPassword('correct horse battery staple');
    res.setHeader('content-type', 'text/plain');
    res.end(ok ? 'welcome\n' : 'denied\n');
  })
  .listen(port, '127.0.0.1', () => {
    console.log(`password-check server listening on http://127.0.0.1:${port}/`);
  });
