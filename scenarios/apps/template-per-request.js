// Not a leak: an express app whose views are rendered with ejs in development mode
// (`cache: false`, express's default outside production), so every request compiles its
// template again: V8 keeps some of the compiled code and its feedback, and memory grows a
// little at first; then it stays. The real problem is the CPU: compiling takes most of each
// request's time and the event loop is at capacity.
// harness should conclude: the server is CPU-bound in ejs's compiler, not a memory leak.
// Listens on $PORT (default 3030) on 127.0.0.1.
'use strict';
const express = require('express');
const ejs = require('ejs');

const port = Number(process.env.PORT) || 3030;
const app = express();

const page = `<!doctype html>
<html><head><title><%= title %></title></head>
<body>
  <h1><%= title %></h1>
  <ul>
  <% for (const item of items) { %>
    <li class="<%= item.price > 50 ? 'dear' : 'cheap' %>"><%= item.name %>: <%= item.price.toFixed(2) %></li>
  <% } %>
  </ul>
  <footer>Rendered <%= new Date(now).toISOString() %></footer>
</body></html>`;

const items = Array.from({ length: 40 }, (_, i) => ({ name: `item ${i}`, price: i * 2.5 }));

function renderCatalogue() {
  // What ejs.renderFile with cache off does: compile the template, then run it.
  return ejs.render(page, { title: 'Catalogue', items, now: Date.now() }, { cache: false });
}

app.get('/', (req, res) => {
  res.type('html').send(renderCatalogue());
});

app.listen(port, '127.0.0.1', () => {
  console.log(`template-per-request listening on http://127.0.0.1:${port}/`);
});
