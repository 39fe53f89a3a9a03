// Memory leak, "session store" shape: every request creates a session with a new random id
// (a load generator never sends the cookie back, so each request is a new visitor) and stores
// it in a module-level Map that is never pruned (no expiry, no size bound). Each session
// holds ~2 KB (a 2 KB string plus a small object).
// harness should conclude: a leak; heap used and RSS grow by roughly 2 KB per request and
// are not given back after the load stops; the heap is dominated by strings and objects
// retained from the sessions Map.
// Listens on $PORT (default 3030) on 127.0.0.1.
'use strict';
const http = require('node:http');
const crypto = require('node:crypto');

const port = Number(process.env.PORT) || 3030;
const sessions = new Map();

function createSession(req) {
  const id = crypto.randomUUID();
  const session = {
    id,
    createdAt: Date.now(),
    userAgent: String(req.headers['user-agent'] || ''),
    // ~2 KB of per-session state (a cart, preferences, ...); a fresh string per session
    data: `${id}:`.concat(crypto.randomBytes(1010).toString('hex')),
  };
  sessions.set(id, session); // never deleted
  return session;
}

http
  .createServer((req, res) => {
    const session = createSession(req);
    res.setHeader('content-type', 'text/plain');
    res.setHeader('set-cookie', `sid=${session.id}; HttpOnly`);
    res.end(`session ${session.id} (${sessions.size} sessions)\n`);
  })
  .listen(port, '127.0.0.1', () => {
    console.log(`session-leak server listening on http://127.0.0.1:${port}/`);
  });
