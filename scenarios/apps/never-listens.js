// An app that starts but never listens: it says on stderr that it is waiting for a database
// that never comes, and retries forever (an interval keeps the process alive) without ever
// opening $PORT.
// harness should conclude: the target is running but never started listening on the port
// before the start-up timeout; it should stop the process, say so, and show the stderr lines
// (the last retry message is the clue), rather than hang or report connection errors as load
// results.
'use strict';

const port = Number(process.env.PORT) || 3030;
let attempts = 0;

console.error(`never-listens: will listen on 127.0.0.1:${port} once the database is up`);
setInterval(() => {
  attempts += 1;
  console.error(`never-listens: database not reachable (attempt ${attempts}), retrying in 2 s`);
}, 2000);
