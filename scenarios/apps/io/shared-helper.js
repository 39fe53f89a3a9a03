// An express app whose handler makes three lookups in sequence, all through one shared
// helper, as an app with a small database module would: loadUser (2 ms), loadRecommendations
// (60 ms) and loadCart (3 ms) each call query().
// The truth: loadRecommendations is ~60 of the ~66 ms of each request (~90 %). An I/O trace
// must name it, `loadRecommendations (shared-helper.js) → query (shared-helper.js) → setTimeout
// 60 ms`, not the helper query() that every lookup goes through.
// The Server-Timing header reports the time in loadRecommendations (the check script compares
// it with the trace).
// Listens on $PORT (default 3030) on 127.0.0.1.
'use strict';
const { setTimeout: sleep } = require('node:timers/promises');
const express = require('express');

// Stands in for a database round trip of `ms` milliseconds.
async function query(ms, rows) {
  await sleep(ms);
  return rows;
}

async function loadUser(id) {
  const [user] = await query(2, [{ id, name: `user ${id}` }]);
  return user;
}

async function loadRecommendations(user) {
  return query(60, [{ sku: 'A-1', for: user.id }, { sku: 'B-2', for: user.id }]);
}

async function loadCart(user) {
  return query(3, [{ sku: 'C-3', quantity: 1, owner: user.id }]);
}

const app = express();

app.get('/home', async (req, res) => {
  const user = await loadUser(Number(req.query.user) || 1);
  const started = performance.now();
  const recommendations = await loadRecommendations(user);
  const recommendationsMs = performance.now() - started;
  const cart = await loadCart(user);
  res.set('server-timing', `recommendations;dur=${recommendationsMs.toFixed(3)}`);
  res.json({ user, recommendations, cart });
});

const port = Number(process.env.PORT) || 3030;
app.listen(port, '127.0.0.1', () => {
  console.log(`shared-helper server listening on http://127.0.0.1:${port}/home`);
});
