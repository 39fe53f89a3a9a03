// The article's connector: a module-level EventEmitter that emits 'connected' (with a tiny
// fake db handle) every 1000 ms, with setMaxListeners(0) so that Node never warns however
// many listeners pile up (the article "cheated" so, to show the leak without the warning).
'use strict';
const { EventEmitter } = require('node:events');

const connector = new EventEmitter();
connector.setMaxListeners(0);

setInterval(() => {
  connector.emit('connected', {
    async get() {
      return 'One';
    },
  });
}, 1000);

module.exports = connector;
