// parallel-timers.js as an ES module: a node:http server whose handler loads five widgets in
// parallel (Promise.all), each taking 30 ms.
// The truth: each request waits ~30 ms on the five together (~97 % of its time), in
// loadWidgets; an I/O trace should report `loadWidgets (parallel-timers.mjs) → … → 5 ×
// setTimeout 30 ms` (file URLs in the stacks become paths).
// The Server-Timing header reports the time in loadWidgets.
// Listens on $PORT (default 3030) on 127.0.0.1.
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

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
  console.log(`parallel-timers.mjs server listening on http://127.0.0.1:${port}/`);
});
