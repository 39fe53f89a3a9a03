// Memory leak that only shows with unique keys: GET /search?q=TERM memoises each answer in a
// module-level Map keyed by the query, with no bound. A load test that sends the same URL
// every time sees a perfect cache and no growth; one that varies the query (a scenario's
// {{counter}} placeholder) sees a few hundred bytes more heap per distinct query (the
// answer shares its 1,000 x's with every other), kept forever.
// harness should conclude: a leak on the JS heap when the keys are unique; none otherwise.
// Listens on $PORT (default 3030) on 127.0.0.1.
'use strict';
const http = require('node:http');

const port = Number(process.env.PORT) || 3030;
const answers = new Map(); // query -> answer, never evicted

function search(query) {
  let answer = answers.get(query);
  if (answer === undefined) {
    answer = `results for ${query}: `.concat('x'.repeat(1000));
    answers.set(query, answer);
  }
  return answer;
}

http
  .createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    const answer = search(url.searchParams.get('q') || '');
    res.setHeader('content-type', 'text/plain');
    res.end(`${answer.length} bytes (${answers.size} cached)\n`);
  })
  .listen(port, '127.0.0.1', () => {
    console.log(`search-cache server listening on http://127.0.0.1:${port}/`);
  });
