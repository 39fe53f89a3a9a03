// A slow downstream service for fetch-downstream.js: answers every request after DELAY_MS
// (default 40) ms, as a remote inventory service would. It listens on $PORT (0: any free port)
// on 127.0.0.1 and, when forked, tells its parent the port over IPC; it exits when the parent
// goes away.
'use strict';
const http = require('node:http');

const delayMs = Number(process.env.DELAY_MS) || 40;
const items = Array.from({ length: 20 }, (_, i) => ({ id: i + 1, name: `item ${i + 1}`, stock: (i * 7) % 13 }));

const server = http.createServer((req, res) => {
  setTimeout(() => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(items));
  }, delayMs);
});

server.listen(Number(process.env.PORT) || 0, '127.0.0.1', () => {
  const { port } = server.address();
  if (process.send) process.send({ port });
  console.log(`downstream listening on http://127.0.0.1:${port}/ (answers after ${delayMs} ms)`);
});

process.on('disconnect', () => process.exit(0));
