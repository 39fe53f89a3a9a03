// A healthy express app: a router, JSON bodies, a small in-memory catalogue that never
// grows. harness should conclude: no problem found (no leak, whatever the run's length).
// Listens on $PORT (default 3030) on 127.0.0.1.
'use strict';
const express = require('express');

const port = Number(process.env.PORT) || 3030;
const app = express();
app.use(express.json());

const catalogue = Array.from({ length: 50 }, (_, i) => ({ id: i, name: `item ${i}`, price: i * 3 }));

app.get('/', (req, res) => {
  res.json({ ok: true, items: catalogue.length });
});

app.get('/items/:id', (req, res) => {
  const item = catalogue[Number(req.params.id) % catalogue.length];
  res.json(item);
});

app.listen(port, '127.0.0.1', () => {
  console.log(`express-hello listening on http://127.0.0.1:${port}/`);
});
