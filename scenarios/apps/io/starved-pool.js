// An express app whose database connections come from a pool of 2 (generic-pool), each query
// holding its connection for 20 ms. At 50 connections, requests queue for a pool connection:
// the waiting request has no timer or socket of its own, only the promise of pool.acquire(),
// resolved when another request releases its connection.
// The truth: at 50 connections each request takes ~500 ms, ~480 ms of it waiting in
// pool.acquire() (~96 %) and 20 ms in its own query. An I/O trace must name the acquire wait
// (`loadOrders → withConnection (starved-pool.js) → promise from Pool.acquire (generic-pool)`),
// not the 20 ms timer of the query, which is what the other requests are running.
// The Server-Timing header reports the time in pool.acquire() (the check script compares it
// with the trace).
// Listens on $PORT (default 3030) on 127.0.0.1.
'use strict';
const { setTimeout: sleep } = require('node:timers/promises');
const genericPool = require('generic-pool');
const express = require('express');

// A stand-in for a database driver's connection: every query takes 20 ms on the server.
class Connection {
  async query(sql, params) {
    await sleep(20);
    return [{ id: params[0], total: 42 }];
  }
}

const pool = genericPool.createPool(
  { create: async () => new Connection(), destroy: async () => {} },
  { max: 2, min: 0 },
);

async function withConnection(work, timing) {
  const started = performance.now();
  const connection = await pool.acquire();
  timing.acquireMs = performance.now() - started;
  try {
    return await work(connection);
  } finally {
    await pool.release(connection);
  }
}

async function loadOrders(userId, timing) {
  return withConnection((connection) => connection.query('SELECT * FROM orders WHERE user_id = $1', [userId]), timing);
}

const app = express();

app.get('/orders', async (req, res) => {
  const timing = { acquireMs: 0 };
  const orders = await loadOrders(Number(req.query.user) || 1, timing);
  res.set('server-timing', `pool;dur=${timing.acquireMs.toFixed(3)}`);
  res.json(orders);
});

const port = Number(process.env.PORT) || 3030;
app.listen(port, '127.0.0.1', () => {
  console.log(`starved-pool server listening on http://127.0.0.1:${port}/orders`);
});
