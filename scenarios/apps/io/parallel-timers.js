// A node:http server whose handler loads five widgets in parallel (Promise.all), each taking
// 30 ms, as a dashboard calling five services at once would.
// The truth: each request waits ~30 ms on the five together (~97 % of its time), in
// loadWidgets. An I/O trace should report them once, as `loadWidgets (parallel-timers.js) →
// … → 5 × setTimeout 30 ms`, not as five separate waits.
// The Server-Timing header reports the time in loadWidgets (the check script compares it with
// the trace). parallel-timers.mjs is the same app as an ES module.
// Listens on $PORT (default 3030) on 127.0.0.1.
'use strict';
const http = require('node:http');
const { setTimeout: sleep } = require('node:timers/promises');

const WIDGETS = ['news', 'weather', 'stocks', 'sports', 'traffic'];

async function loadWidgets() {
  return Promise.all(WIDGETS.map(async (name) => {
    await sleep(30);
    return { name, html: `<div class="${name}"></div>` };
  }));
}

const server = http.createServer(async (req, res) => {
  const started = performance.now();
  const widgets = await loadWidgets();
  res.setHeader('server-timing', `widgets;dur=${(performance.now() - started).toFixed(3)}`);
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(widgets));
});

const port = Number(process.env.PORT) || 3030;
server.listen(port, '127.0.0.1', () => {
  console.log(`parallel-timers server listening on http://127.0.0.1:${port}/`);
});
