// A node:http server whose handler runs a pipeline of nine steps one after another, each
// waiting 10 ms (await in a loop), as a handler making nine small calls in sequence would.
// The truth: each request waits ~9 × 10 ms in runPipeline (~97 % of its time). An I/O trace
// should name `runPipeline (nine-timers.js) → setTimeout 10 ms`, nine times per request.
// The Server-Timing header reports the time in runPipeline (the check script compares it with
// the trace).
// Listens on $PORT (default 3030) on 127.0.0.1.
'use strict';
const http = require('node:http');

const STEPS = ['parse', 'validate', 'authorize', 'price', 'tax', 'discount', 'reserve', 'charge', 'notify'];

function wait(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function runPipeline(order) {
  for (const step of STEPS) {
    await wait(10);
    order.steps.push(step);
  }
  return order;
}

const server = http.createServer(async (req, res) => {
  const started = performance.now();
  const order = await runPipeline({ id: req.url, steps: [] });
  res.setHeader('server-timing', `pipeline;dur=${(performance.now() - started).toFixed(3)}`);
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(order));
});

const port = Number(process.env.PORT) || 3030;
server.listen(port, '127.0.0.1', () => {
  console.log(`nine-timers server listening on http://127.0.0.1:${port}/`);
});
