// An express app whose requests are served one at a time by a single simulated worker (a
// licence server, a GPU, a single-threaded downstream) with a fixed service time: its exact
// capacity is 1000 / SERVICE_MS requests a second, whatever the machine's CPU. Each request
// is finished SERVICE_MS after the previous one (or after it arrived, if the worker was
// idle), on absolute deadlines, so timer slack never adds up. The event loop idles: the
// limit is the wait for the worker.
// SERVICE_MS (default 4, so 250 req/s); listens on $PORT (default 3030) on 127.0.0.1.
'use strict';
const express = require('express');

const SERVICE_MS = Number(process.env.SERVICE_MS) || 4;
let free = 0; // when the worker is next free, performance.now() ms

function awaitWorker() {
  const now = performance.now();
  const done = Math.max(now, free) + SERVICE_MS;
  free = done;
  return new Promise((resolve) => setTimeout(resolve, done - now));
}

const app = express();
app.get('/render', async (req, res) => {
  await awaitWorker();
  res.json({ ok: true });
});

const port = Number(process.env.PORT) || 3030;
app.listen(port, '127.0.0.1', () => console.log(`single-worker server listening on http://127.0.0.1:${port}/render`));
