// A fake database connector shared by listener-leak.js and listener-fixed.js: a module-level
// EventEmitter that emits 'connected' (with a tiny fake db handle) every 1000 ms.
// It keeps EventEmitter's default limit of 10 listeners per event, so adding an 11th
// 'connected' listener makes Node print a MaxListenersExceededWarning on stderr (with the
// stack of the .on() call when node runs with --trace-warnings).
'use strict';
const { EventEmitter } = require('node:events');

const connector = new EventEmitter();

setInterval(() => {
  connector.emit('connected', {
    async get() {
      return 'One';
    },
  });
}, 1000);

module.exports = connector;
