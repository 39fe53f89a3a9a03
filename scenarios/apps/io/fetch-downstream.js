// An I/O-bound express app: GET /items asks a slow downstream service (downstream.js, a child
// process it starts on a port of its own, answering after 40 ms) with fetch() and returns what
// it got.
// The truth: almost all of each request's time is the fetch in getItems (~40 ms of ~41 ms); the
// handler's own work is well under a millisecond. An I/O trace should name
// `getItems (fetch-downstream.js) → fetch GET 127.0.0.1:<port>/items?…` with ~95 % of the time.
// The Server-Timing header reports the time spent in getItems, as services do for their
// dependencies (the check script compares it with the trace).
// Listens on $PORT (default 3030) on 127.0.0.1.
'use strict';
const path = require('node:path');
const { fork } = require('node:child_process');
const express = require('express');

const port = Number(process.env.PORT) || 3030;
const downstream = fork(path.join(__dirname, 'downstream.js'), [], { env: { ...process.env, PORT: '0', DELAY_MS: '40' } });
let inventoryUrl = null;

async function getItems(category) {
  const response = await fetch(`${inventoryUrl}/items?category=${encodeURIComponent(category)}`);
  if (!response.ok) throw new Error(`inventory answered ${response.status}`);
  return response.json();
}

const app = express();

app.get('/items', async (req, res) => {
  const started = performance.now();
  const items = await getItems(req.query.category || 'all');
  res.set('server-timing', `inventory;dur=${(performance.now() - started).toFixed(3)}`);
  res.json({ count: items.length, items: items.filter((item) => item.stock > 0) });
});

downstream.once('message', ({ port: downstreamPort }) => {
  inventoryUrl = `http://127.0.0.1:${downstreamPort}`;
  app.listen(port, '127.0.0.1', () => {
    console.log(`fetch-downstream server listening on http://127.0.0.1:${port}/ (inventory at ${inventoryUrl})`);
  });
});

process.on('exit', () => downstream.kill());
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0));
