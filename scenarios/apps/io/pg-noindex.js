// An express + pg app that looks items up by a column without an index: GET /items/:code runs
// SELECT * FROM items WHERE code = $1 over ~200 000 rows, a sequential scan each time. The
// table is created and filled at start if missing. Connection from the usual PG* variables
// (PGHOST may be a Unix socket directory; tests/support/postgres.sh starts a private server).
// The truth: nearly all of each request's time is that query in findItem (its own pool wait
// included); an I/O trace should name `findItem (pg-noindex.js) → pg query SELECT * FROM items
// WHERE code = $1`. The fix is an index on items(code).
// The Server-Timing header reports the time in findItem's query (the check script compares it
// with the trace).
// Listens on $PORT (default 3030) on 127.0.0.1.
'use strict';
const express = require('express');
const { Pool } = require('pg');

const ROWS = 200000;
const pool = new Pool(); // PGHOST, PGPORT, PGUSER, PGDATABASE from the environment

async function ensureTable() {
  await pool.query('CREATE TABLE IF NOT EXISTS items (id serial PRIMARY KEY, code text NOT NULL, name text NOT NULL, price numeric NOT NULL)');
  const { rows } = await pool.query('SELECT count(*)::int AS n FROM items');
  if (rows[0].n === ROWS) return;
  await pool.query('TRUNCATE items');
  await pool.query(
    "INSERT INTO items (code, name, price) SELECT 'C' || g, 'item ' || g, (g % 100) + 0.99 FROM generate_series(1, $1::int) AS g",
    [ROWS],
  );
  await pool.query('ANALYZE items');
}

async function findItem(code, timing) {
  const started = performance.now();
  const { rows } = await pool.query('SELECT * FROM items WHERE code = $1', [code]);
  timing.queryMs = performance.now() - started;
  return rows[0] || null;
}

const app = express();

app.get('/items/:code', async (req, res) => {
  const timing = { queryMs: 0 };
  const item = await findItem(req.params.code, timing);
  res.set('server-timing', `db;dur=${timing.queryMs.toFixed(3)}`);
  if (!item) return res.status(404).json({ error: 'no such item' });
  res.json(item);
});

const port = Number(process.env.PORT) || 3030;
ensureTable().then(
  () => app.listen(port, '127.0.0.1', () => console.log(`pg-noindex server listening on http://127.0.0.1:${port}/items/C1`)),
  (err) => {
    console.error(`pg-noindex: cannot prepare the items table: ${err.message}`);
    process.exit(1);
  },
);
