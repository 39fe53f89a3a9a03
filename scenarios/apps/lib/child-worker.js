// Child process for spawns-child.js: stays alive forever (an interval) and does some
// allocation: every 100 ms it allocates a 1 MB buffer and keeps the 8 newest, so it holds a
// steady ~8 MB and produces garbage. It does not exit when its parent goes away.
'use strict';

const kept = [];
setInterval(() => {
  const buf = Buffer.alloc(1 << 20, kept.length);
  kept.push(buf);
  if (kept.length > 8) kept.shift();
}, 100);
