// A small express shop with three kinds of request that behave differently:
//   GET  /health          answers at once;
//   GET  /search?q=...     scans a 20,000-product catalogue (a few ms of JavaScript);
//   POST /login            hashes the password with crypto.pbkdf2 (libuv's thread pool) and
//                          answers 200 {"ok":true,"token":...}, or, once the pool has more
//                          than LOGIN_QUEUE logins waiting, 200 {"ok":false,"error":"busy"}:
//                          an error that only a check on the body sees.
// Listens on $PORT (default 3030) on 127.0.0.1.
'use strict';
const crypto = require('node:crypto');
const express = require('express');

const port = Number(process.env.PORT) || 3030;
const queueLimit = Number(process.env.LOGIN_QUEUE) || 64;
const app = express();
app.use(express.json());

const words = ['red', 'blue', 'green', 'lamp', 'chair', 'desk', 'mug', 'book', 'pen', 'sofa'];
const catalogue = Array.from({ length: 20000 }, (_, i) => ({
  id: i,
  name: `${words[i % 10]} ${words[(i * 7) % 10]} ${i}`,
  price: (i % 500) + 0.99,
}));

app.get('/health', (req, res) => {
  res.json({ status: 'ok' });
});

app.get('/search', (req, res) => {
  const q = String(req.query.q || '').toLowerCase();
  const results = catalogue.filter((p) => p.name.includes(q)).slice(0, 20);
  res.json({ ok: true, count: results.length, results });
});

let waiting = 0;
app.post('/login', (req, res) => {
  const { user, password } = req.body || {};
  if (!user || !password) {
    return res.status(400).json({ ok: false, error: 'user and password are required' });
  }
  if (waiting >= queueLimit) {
    // Many real APIs answer 200 with an error in the body.
    return res.json({ ok: false, error: 'busy, try again' });
  }
  waiting++;
  crypto.pbkdf2(password, `salt:${user}`, 2000, 32, 'sha256', (err, key) => {
    waiting--;
    if (err) return res.status(500).json({ ok: false, error: err.message });
    res.json({ ok: true, token: key.toString('hex') });
  });
});

app.listen(port, '127.0.0.1', () => {
  console.log(`shop listening on http://127.0.0.1:${port}/`);
});
