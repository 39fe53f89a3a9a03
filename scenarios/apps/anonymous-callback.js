// A blocked event loop whose work is an anonymous callback: each request schedules, with
// setImmediate, an arrow function inside `createLargeLinkStructure` that builds and walks a
// linked structure for about 20 ms before the response is sent.
// harness should conclude: a blocked event loop, held by the anonymous function in
// `createLargeLinkStructure` (anonymous-callback.js:14).
// Listens on $PORT (default 3030) on 127.0.0.1.
'use strict';
const http = require('node:http');

const port = Number(process.env.PORT) || 3030;
const WORK_MS = Number(process.env.WORK_MS) || 20;

function createLargeLinkStructure(done) {
  setImmediate(() => {
    const until = Date.now() + WORK_MS;
    let head = null;
    let length = 0;
    while (Date.now() < until) {
      head = { next: head, value: length++ };
    }
    done(length);
  });
}

http
  .createServer((req, res) => {
    createLargeLinkStructure((length) => {
      res.setHeader('content-type', 'text/plain');
      res.end(`${length} links\n`);
    });
  })
  .listen(port, '127.0.0.1', () => {
    console.log(`anonymous-callback server listening on http://127.0.0.1:${port}/`);
  });
