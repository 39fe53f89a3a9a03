// An express app that serves one 256 KB document from memory (no ETag, as a cache or CDN
// origin would be set up): each response costs the server little, and a client that reads
// and checks the whole body costs more. harness with one worker and a body check is the
// limit here, not the server.
// Listens on $PORT (default 3030) on 127.0.0.1.
'use strict';
const express = require('express');

const blob = Buffer.alloc(256 * 1024, 'a');
blob.write('END', blob.length - 3);

const app = express();
app.set('etag', false);
app.get('/doc', (req, res) => {
  res.type('text/plain').send(blob);
});

const port = Number(process.env.PORT) || 3030;
app.listen(port, '127.0.0.1', () => console.log(`static-blob server listening on http://127.0.0.1:${port}/doc`));
