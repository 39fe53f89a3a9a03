// Bad cases for the I/O trace, one route each: a handler that never answers, one stuck on a
// promise nobody resolves, one that awaits nothing, 10,000 chained promises, 300 waits in a
// row, and an app that replaces Error.prepareStackTrace (as source-map-support does).
// harness must note each and neither crash nor hang the app or itself.
// Listens on $PORT (default 3030) on 127.0.0.1.
'use strict';
const http = require('node:http');
const cluster = require('node:cluster');

// As source-map-support does: every stack goes through the app's own formatter.
Error.prepareStackTrace = (error, frames) => 'custom: ' + error.message + ' (' + frames.length + ' frames)';

function sleep(ms) { return new Promise((resolve) => setTimeout(resolve, ms)); }

async function longChain() {
  let p = Promise.resolve(0);
  for (let i = 0; i < 10000; i++) p = p.then((n) => n + 1);
  const n = await p;
  await sleep(5);
  return n;
}

function waitForever() { return new Promise(() => {}); } // a lost resolve

async function manyWaits() {
  for (let i = 0; i < 300; i++) await sleep(0);
}

async function handle(req, res) {
  if (req.url === '/hang') return; // never answers
  if (req.url === '/stuck') { await waitForever(); return res.end('never'); }
  if (req.url === '/nothing') return res.end('nothing');
  if (req.url === '/chain') return res.end(String(await longChain()));
  if (req.url === '/many') { await manyWaits(); return res.end('many'); }
  if (req.url === '/stack') return res.end(new Error('mine').stack);
  res.statusCode = 404;
  res.end();
}

if (process.env.BAD_CLUSTER && cluster.isPrimary) {
  for (let i = 0; i < 2; i++) cluster.fork();
  let listening = 0;
  cluster.on('listening', () => { if (++listening === 2) console.log('bad-cases cluster listening'); });
} else {
  http.createServer(handle).listen(Number(process.env.PORT), '127.0.0.1', () => {
    if (!process.env.BAD_CLUSTER) console.log('bad-cases listening');
  });
}
