'use strict';
/*
 * harness I/O trace, the probe's side: what each traced request waited on.
 *
 * Loaded lazily by the probe when harness starts an I/O trace (or evaluated through the
 * inspector): defining the exports is its only top-level effect. start(options) installs
 * everything; handle.stop() removes it all and returns a plain JSON-able report.
 *
 *   const trace = require('./iotrace.cjs').start({ header: 'x-harness-trace' });
 *   ... the same load, with the header on the requests to trace ...
 *   const report = trace.stop();
 *
 * options (all optional)
 *   header              'x-harness-trace'  requests carrying it are traced; its VALUE names the
 *                                          request kind (e.g. "GET /search?q={{counter}}"), so
 *                                          the probe groups by it and knows no path templates
 *   maxRequestsPerKind  500      traced requests per kind; later ones are counted, not traced
 *   maxWaitsPerRequest  200      waits recorded per request (the rest are counted)
 *   maxMemoryBytes      64 MiB   estimated bookkeeping; past it no new request is traced
 *   stackDepth          20       app frames kept per call path
 *   appRoot             cwd      call paths show files relative to it
 *   maxKinds            100      distinct header values
 *   require             fn       how to load builtins (else process.getBuiltinModule, else require)
 *
 * report (stop()'s return value; times in ms, shares 0..1 of the kind's total request time)
 *   { version: 1, pid, node, header, startedAt (epoch ms), durationMs, stopMs, memoryBytes,
 *     kinds: [{ kind,                        the header value
 *               requests,                    traced requests that finished
 *               droppedRequests,             not traced (over maxRequestsPerKind or memory)
 *               latencyMs: { p50, p90, mean },  request start to response finish, in-process
 *               running, queued,             shares: its own callbacks / ready but loop busy
 *               operations: [{               the top 5, by time charged
 *                 name,                      "loadRecommendations (shared-helper.js:26) →
 *                                            query (shared-helper.js:16) → setTimeout 60 ms"
 *                 detail,                    the operation alone: "setTimeout 60 ms"
 *                 path: [{ function, file, line, column }],  app frames, innermost first
 *                 count,                     requests that awaited it
 *                 parallel,                  most waits of it started together ("5 ×")
 *                 perRequest,                times awaited in sequence per request (mean)
 *                 chargedMs: { p50, p90 },   time charged per request that awaited it
 *                 share }],
 *               otherOperations,             share of the operations after the top 5
 *               unfinished: null | { count, stuck, oldestMs, waitingOn: [{ name, count }] },
 *                                            open at stop; stuck: open for over 5 × p90 (1 s
 *                                            at least), and what those were waiting on
 *               notes: [string] }],          bad cases: unfinished, nothing awaited, caps
 *     unseen: [string],                      what this process could not see, and why
 *     notes: [string],                       process-wide: replaced prepareStackTrace, caps
 *     error?: string }                       only when the trace could not run at all
 *   running + queued + the shares of all operations = 1 for each kind.
 *
 * What is seen
 *   - Requests: the diagnostics channel http.server.request.start (every Node this supports; a
 *     wrapper of http.Server.prototype.emit('request') where it is missing). Only a request
 *     with the header gets a record, entered into an AsyncLocalStorage, so everything created
 *     in its asynchronous context knows its request. Its end is http.server.response.finish.
 *   - Waits, from async_hooks `init` in a traced request's context: timers (setTimeout 60 ms),
 *     fs requests, DNS, socket connects, thread-pool work (crypto). A wait ends when its
 *     callback starts (`before`); a timer ends no later than 1 ms after it was due, so a
 *     callback delayed by a busy loop shows as queued. Cleared timers never end, and a wait
 *     that had not ended when the response finished did not hold it: neither is charged
 *     anything. fs.readFile's open/fstat/read/close, each made in the previous one's
 *     callback, are one operation. setImmediate is not a wait (its callback is ready at once).
 *   - Outgoing HTTP: undici's channels (fetch) and http.client.*, with method, host and path.
 *   - Databases: library TracingChannels where they exist (mysql2, ioredis, node-redis, mssql);
 *     for pg, which has none, Client.prototype.query and pg-pool's Pool query/connect found in
 *     the module cache are wrapped during the window (and unwrapped at stop) to learn the SQL.
 *   - Promises, because some waits create nothing else in the waiting request: a pool's
 *     acquire() is resolved by another request's release, and a pooled socket belongs to
 *     whichever request opened it. A promise created in a traced request is a wait of its own
 *     only if it is resolved in a later macrotask ("turn") in which nothing else the request
 *     waited on ended; a promise resolved by the request's own timer or query callback (or in
 *     the turn that created it) is just the chain above that wait and is dropped. A promise
 *     chained from one of the request's own (`await p`, p.then()) is never a wait of its own
 *     and gets no stack; one chained from a foreign promise (shared, in flight) is followed.
 *     A promise that became a wait takes the detail of the operation made inside it
 *     (new Promise(r => http.get(url, res => ... r()))): "getJson → http GET host/path".
 *     `destroy` is not hooked: it would make V8 track every promise's collection.
 *   Not seen: HTTP/2 servers (no request channel); work in worker threads or child processes
 *   (the awaiting promise is seen, named where it was made); Submittable pg queries; waits
 *   through a non-native Promise library. A wait made inside a library with no app frame on
 *   its stack (a process.nextTick, a library's callback) takes the app path of the request's
 *   newest pending promise.
 *
 * Attribution, per request, when its response finishes
 *   Every instant between the request's start and its finish is charged to the pending wait
 *   that ends last (what the request was still waiting for), else to "running" (one of its
 *   own callbacks was executing), else to "queued" (its next callback was ready, e.g. a timer
 *   was due, but the loop was busy elsewhere). Waits of one operation started in the same
 *   turn (Promise.all) are one group, named once ("5 × setTimeout 30 ms"); the same
 *   operation awaited in sequence is summed per request.
 *
 * Names
 *   A wait's name is its operation (type + detail) and the app's call path where it was
 *   created: a stack captured with Error.captureStackTrace on a plain object (stackTraceLimit
 *   set and restored around it), formatted later, only for waits that got time, through a
 *   prepareStackTrace installed just for that read (so an app's own, e.g. source-map-support,
 *   is bypassed and untouched). Only app frames are kept (not node:, internal/, node_modules/
 *   or this file). In the report each operation's path is trimmed to the frames that tell it
 *   from the kind's other operations: a helper shared by every call (query(), sleep()) is
 *   passed through to the caller whose calls differ, e.g.
 *     loadRecommendations (shared-helper.js:26) → query (shared-helper.js:16) → setTimeout 60 ms
 *
 * Cost and bounds
 *   Nothing is hooked before start(). In the window, init/before/after/promiseResolve run for
 *   every resource; outside a traced request init returns after one store lookup. Stacks are
 *   captured only for waits and promises of traced requests. Requests per kind, waits and
 *   pending promises per request, runs per request and the estimated memory are capped, and
 *   what was dropped is counted and said. Attribution runs once per request at its finish, so
 *   stop() only aggregates bounded per-request summaries (a few ms at most).
 *   Hooks never throw (an exception in an async hook ends the process): every body is guarded.
 *   One trace per process at a time. stop() leaves one thing behind: calling
 *   executionAsyncResource() sets a flag Node never clears (its callbacks then hand their
 *   resource to JS), as any AsyncLocalStorage user on Node 20/22 does anyway.
 */

const DEFAULTS = {
  header: 'x-harness-trace',
  maxRequestsPerKind: 500,
  maxWaitsPerRequest: 200,
  maxMemoryBytes: 64 * 1024 * 1024,
  stackDepth: 20,
  maxKinds: 100,
};
// Frames a capture may spend inside Node and libraries before reaching the app: a hook sees
// 1-4 (async_hooks, timers), a pool's promise a few of the library's; undici creates its
// request ~30 frames below fetch(). A capture costs ~2 µs in a quiet process but ~10 µs in a
// warm server (V8 rebuilds the inlined frames of optimized code), whatever the limit.
const HOOK_EXTRA_FRAMES = 4;
const CHANNEL_EXTRA_FRAMES = 40;
// Node runs a timer in the first loop iteration after it is due, by a millisecond clock: up
// to ~1 ms late on an idle loop. Only lateness beyond that is the loop being busy (queued).
const TIMER_SLACK_MS = 1;
const MAX_PENDING_PROMISES = 500; // per request, alive at once (a 10 000-link chain is capped)
const MAX_RUNS = 2000; // per request; later runs extend the last one
const TOP_OPERATIONS = 5;
const MAX_KIND_LENGTH = 200;
// Rough bookkeeping sizes for the memory cap (bytes).
const REQUEST_BYTES = 800;
const WAIT_BYTES = 250;
const PROMISE_BYTES = 150;
const DERIVED_PROMISE_BYTES = 60;
const FRAME_BYTES = 64;
const SUMMARY_BYTES = 120;

const ACTIVE = Symbol.for('harness.iotrace.active');

// Starts a trace; never throws. If it cannot run, stop() says why in the report.
function start(options) {
  let trace = null;
  let failure = null;
  try {
    const opts = settings(options || {});
    if (process[ACTIVE]) failure = 'an I/O trace is already running in this process';
    else {
      trace = createTrace(opts, builtinLoader(options || {}));
      trace.begin();
    }
  } catch (e) {
    failure = 'the I/O trace could not start: ' + describeError(e);
    try { if (trace) trace.stop(); } catch (_) { /* already reported */ }
    trace = null;
  }
  if (!trace) return { stop: () => failedReport(failure) };
  return { stop: () => trace.stop() };
}

function settings(o) {
  const num = (v, d) => (typeof v === 'number' && v > 0 && isFinite(v) ? Math.floor(v) : d);
  return {
    header: typeof o.header === 'string' && o.header ? o.header.toLowerCase() : DEFAULTS.header,
    maxRequestsPerKind: num(o.maxRequestsPerKind, DEFAULTS.maxRequestsPerKind),
    maxWaitsPerRequest: num(o.maxWaitsPerRequest, DEFAULTS.maxWaitsPerRequest),
    maxMemoryBytes: num(o.maxMemoryBytes, DEFAULTS.maxMemoryBytes),
    stackDepth: num(o.stackDepth, DEFAULTS.stackDepth),
    maxKinds: num(o.maxKinds, DEFAULTS.maxKinds),
    appRoot: typeof o.appRoot === 'string' ? o.appRoot : process.cwd(),
    selfFile: typeof o.selfFile === 'string' ? o.selfFile : (typeof __filename === 'string' ? __filename : ''),
    forceEmitFallback: o.forceEmitFallback === true, // tests the fallback for older Node
  };
}

// Builtins without relying on a module scope: evaluated through the inspector there is none.
function builtinLoader(o) {
  if (typeof o.require === 'function') return o.require;
  if (typeof process.getBuiltinModule === 'function') return (name) => process.getBuiltinModule(name);
  return require; // eslint-disable-line no-undef
}

function failedReport(reason) {
  return { version: 1, pid: process.pid, node: process.version, error: reason, kinds: [], unseen: [], notes: [reason] };
}

function describeError(e) {
  try { return String((e && e.message) || e); } catch (_) { return 'unknown error'; }
}

function createTrace(opts, load) {
  const asyncHooks = load('async_hooks');
  const dc = load('diagnostics_channel');
  const perf = load('perf_hooks').performance;
  const now = () => perf.now();
  const AsyncResource = asyncHooks.AsyncResource;
  const executionAsyncResource = asyncHooks.executionAsyncResource;
  const executionAsyncId = asyncHooks.executionAsyncId;
  const als = new asyncHooks.AsyncLocalStorage();
  const stacks = stackReader(opts);
  const PENDING_PROMISE_BYTES = PROMISE_BYTES + FRAME_BYTES * (opts.stackDepth + HOOK_EXTRA_FRAMES);

  const startedAt = Date.now();
  const startedPerf = now();
  let turn = 0; // counts macrotasks: a turn is one callback from the loop plus its microtasks
  let depth = 0; // nesting of before/after
  let openInitial = null; // the request whose first synchronous run is still open
  let runningWait = null; // the wait whose callback is running
  const pendingWaits = new Map(); // asyncId -> wait whose callback has not run yet
  const pendingPromises = new Map(); // asyncId -> promise record, until resolved
  const promiseRecords = new WeakMap(); // Promise -> its record, once pg is wrapped (its query's promise)
  let recordPromises = false;
  const channelWaits = new WeakMap(); // undici/http request or tracing context -> wait
  // ServerResponse -> request record. A Map, emptied as responses finish: a WeakMap's entries
  // cost the collector more, at thousands of requests a second.
  const byResponse = new Map();
  const live = new Set(); // traced requests not finished yet
  const kinds = new Map(); // header value -> aggregates
  const unseen = new Set();
  const notes = new Set();
  const dropped = { kinds: 0, memory: 0 };
  let memory = 0;
  let peakMemory = 0;
  const undo = []; // what begin() installed, removed in reverse by stop()
  let hook = null;
  let active = true; // false from stop() on: late callbacks of wrapped calls just pass through
  let report = null;

  // ---------------------------------------------------------------- lifecycle

  function begin() {
    Object.defineProperty(process, ACTIVE, { value: true, configurable: true });
    undo.push(() => { delete process[ACTIVE]; });
    noteStackFormatter();
    hook = asyncHooks.createHook({ init, before, after, promiseResolve });
    hook.enable();
    undo.push(() => hook.disable());
    undo.push(() => als.disable());
    watchRequests();
    watchOutgoingHttp();
    watchLibraryChannels();
    watchPg();
  }

  // An app's Error.prepareStackTrace (source-map-support) is bypassed, not broken: the trace
  // installs its own around each read, or, if the app froze it, parses the app's text.
  function noteStackFormatter() {
    const own = Error.prepareStackTrace;
    if (typeof own !== 'function' || own.name === 'ErrorPrepareStackTrace') return; // Node's default
    const d = Object.getOwnPropertyDescriptor(Error, 'prepareStackTrace');
    notes.add(d && d.writable === false && !d.set
      ? 'the app froze its own Error.prepareStackTrace: call paths were parsed from its text, which may lose frames'
      : 'the app replaces Error.prepareStackTrace (source-map-support?): call paths were read with the trace\'s own formatter, so they show positions in the code as loaded');
  }

  function stop() {
    if (report) return report;
    active = false;
    const t = now();
    for (let i = undo.length - 1; i >= 0; i--) guard(undo[i])();
    undo.length = 0;
    try { report = buildReport(t); } catch (e) { report = failedReport('the I/O trace failed to report: ' + describeError(e)); }
    pendingWaits.clear();
    pendingPromises.clear();
    byResponse.clear();
    live.clear();
    kinds.clear();
    report.stopMs = round(now() - t, 3);
    return report;
  }

  function guard(fn) {
    return function guarded() {
      try { return fn.apply(this, arguments); } catch (_) { return undefined; }
    };
  }

  // dc.subscribe holds the channel strongly; channel.subscribe is for Node before 18.7.
  function subscribe(name, fn) {
    const g = guard(fn);
    if (typeof dc.subscribe === 'function') {
      dc.subscribe(name, g);
      undo.push(() => dc.unsubscribe(name, g));
    } else {
      const channel = dc.channel(name);
      channel.subscribe(g);
      undo.push(() => channel.unsubscribe(g));
    }
  }

  function account(bytes) {
    memory += bytes;
    if (memory > peakMemory) peakMemory = memory;
  }

  // Only a live traced request counts; a finished one's store may linger on a pooled socket.
  function current() {
    const req = als.getStore();
    return req !== undefined && !req.done ? req : undefined;
  }

  // ---------------------------------------------------------------- requests

  function watchRequests() {
    const major = parseInt(process.versions.node, 10);
    if (major >= 18 && !opts.forceEmitFallback) {
      subscribe('http.server.request.start', (m) => onRequestStart(m.request, m.response));
      subscribe('http.server.response.finish', (m) => onResponseFinish(m.response));
      return;
    }
    unseen.add('no http.server.request.start channel on Node ' + process.version + ': requests were found by wrapping http.Server.prototype.emit (https and http2 servers are not traced)');
    const http = load('http');
    const proto = http.Server.prototype;
    const original = proto.emit;
    proto.emit = function emit(event, request, response) {
      if (event === 'request') guard(onEmitRequest)(request, response);
      return original.apply(this, arguments);
    };
    undo.push(() => { if (proto.emit !== original) proto.emit = original; });
  }

  function onEmitRequest(request, response) {
    const req = onRequestStart(request, response);
    if (req) response.once('finish', guard(() => onResponseFinish(response)));
  }

  function onRequestStart(request, response) {
    const name = headerValue(request, opts.header);
    if (name === undefined) {
      // On Node 20/22 the store set for the previous request on this connection lingers.
      if (als.getStore() !== undefined) als.enterWith(undefined);
      return null;
    }
    const req = admit(name.length > MAX_KIND_LENGTH ? name.slice(0, MAX_KIND_LENGTH) : name);
    als.enterWith(req);
    if (req === undefined) return null;
    byResponse.set(response, req);
    openInitial = req; // the handler runs now, synchronously
    return req;
  }

  // rawHeaders, so that untraced requests do not build the headers object for us.
  function headerValue(request, header) {
    const raw = request && request.rawHeaders;
    if (!raw) return undefined;
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const key = raw[i];
      if (key.length === header.length && key.toLowerCase() === header) return String(raw[i + 1]);
    }
    return undefined;
  }

  function admit(name) {
    let kind = kinds.get(name);
    if (kind === undefined) {
      if (kinds.size >= opts.maxKinds) { dropped.kinds++; return undefined; }
      kind = newKind(name);
      kinds.set(name, kind);
    }
    if (kind.admitted >= opts.maxRequestsPerKind) { kind.droppedRequests++; return undefined; }
    if (memory > opts.maxMemoryBytes) { kind.droppedRequests++; dropped.memory++; return undefined; }
    kind.admitted++;
    const req = newRequest(kind);
    live.add(req);
    account(REQUEST_BYTES);
    return req;
  }

  function newKind(name) {
    return {
      name, admitted: 0, droppedRequests: 0, finished: 0,
      latencies: [], totalMs: 0, runningMs: 0, queuedMs: 0, ops: new Map(),
      nothingAwaited: 0, waitsDropped: 0, promisesDropped: 0, runsMerged: 0,
    };
  }

  function newRequest(kind) {
    const t = now();
    return {
      kind, start: t, end: 0, done: false,
      depth: 1, runStart: t, runs: [], // running intervals, flat [start, end, ...]
      waits: [], waitsDropped: 0,
      promiseIds: new Set(), promisesDropped: 0,
      endTurn: -1, // the last turn in which one of its waits ended
      lastPromise: null, // its newest pending promise record
      bytes: REQUEST_BYTES,
    };
  }

  function onResponseFinish(response) {
    const req = byResponse.get(response);
    if (req === undefined) return;
    byResponse.delete(response);
    if (req.done) return;
    finish(req, now());
  }

  function finish(req, t) {
    req.end = t;
    req.done = true;
    live.delete(req);
    if (req.depth > 0) pushRun(req, req.runStart, t);
    for (const id of req.promiseIds) {
      const rec = pendingPromises.get(id);
      if (rec === undefined) continue;
      pendingPromises.delete(id);
      account(rec.derived ? -DERIVED_PROMISE_BYTES : -PENDING_PROMISE_BYTES);
    }
    for (const w of req.waits) if (w.id !== undefined && w.end < 0) pendingWaits.delete(w.id);
    const summary = summarise(req, attribute(req));
    mergeSummary(req.kind, summary);
    memory -= req.bytes;
    account(SUMMARY_BYTES);
    req.waits = null;
    req.runs = null;
    req.promiseIds = null;
  }

  // ---------------------------------------------------------------- async_hooks

  const TYPES = {
    Timeout: 'timer',
    FSREQCALLBACK: 'fs', FSREQPROMISE: 'fs',
    GETADDRINFOREQWRAP: 'dns', GETNAMEINFOREQWRAP: 'dns', QUERYWRAP: 'dns',
    TCPCONNECTWRAP: 'connect', PIPECONNECTWRAP: 'connect',
    Immediate: 'immediate',
  };

  function init(asyncId, type, triggerAsyncId, resource) {
    const req = als.getStore();
    if (req === undefined || req.done) return; // the cheap way out: not in a traced request
    try {
      if (type === 'PROMISE') trackPromise(req, asyncId, triggerAsyncId, resource);
      else {
        const category = TYPES[type] || (/REQUEST$/.test(type) && type !== 'HTTPCLIENTREQUEST' ? 'crypto' : null);
        if (category !== null) addHookWait(req, asyncId, type, category, resource);
      }
    } catch (_) { /* never break the app */ }
  }

  function before(asyncId) {
    depth++;
    if (live.size === 0) return; // nothing traced in flight: turns and runs do not matter
    try {
      if (depth === 1 && openInitial !== null) closeInitial();
      if (isMacrotask(executionAsyncResource())) turn++;
      const w = pendingWaits.get(asyncId);
      runningWait = w === undefined ? null : w;
      if (w !== undefined) endHookWait(w);
      const req = current();
      if (req !== undefined && req.depth++ === 0) req.runStart = now();
    } catch (_) { /* never break the app */ }
  }

  function after() {
    runningWait = null;
    if (depth > 0) depth--;
    if (live.size === 0) return;
    try {
      const req = current();
      if (req !== undefined && req.depth > 0 && --req.depth === 0) {
        pushRun(req, req.runStart, now());
        if (openInitial === req) openInitial = null;
      }
    } catch (_) { /* never break the app */ }
  }

  // The handler's first synchronous run ends with the callback that started the request;
  // if its `after` was not seen with the request's store, the next top-level callback ends it.
  function closeInitial() {
    const req = openInitial;
    openInitial = null;
    if (req.done || req.depth === 0) return;
    req.depth = 0;
    pushRun(req, req.runStart, now());
  }

  // Promise reactions, process.nextTick callbacks and AsyncResource scopes run inside the
  // current turn; anything else is a new callback from the event loop.
  function isMacrotask(resource) {
    if (resource === null || typeof resource !== 'object') return true;
    if (resource instanceof Promise || resource instanceof AsyncResource) return false;
    return Object.getPrototypeOf(resource) !== Object.prototype; // TickObject is a plain object
  }

  function pushRun(req, s, e) {
    const runs = req.runs;
    const n = runs.length;
    if (n > 0 && s - runs[n - 1] < 0.005) { if (e > runs[n - 1]) runs[n - 1] = e; return; }
    if (n >= MAX_RUNS * 2) { runs[n - 1] = e; req.kind.runsMerged++; return; }
    runs.push(s, e);
  }

  // ---------------------------------------------------------------- waits

  // A wait, or a promise that may become one. `context` is the request's newest pending
  // promise when it was made: the app call it is part of, for a wait made where the stack
  // shows no app frame (inside a library, in a process.nextTick).
  function record(req, type, cheap, holder) {
    return {
      req, type, cheap, start: now(), end: -1, due: Infinity, headersAt: -1, turn, holder,
      context: contextOf(req), root: null, id: undefined, resource: null, adopted: null, op: null,
      derived: false, foreign: false, settled: false, place: null, desc: null,
    };
  }

  function contextOf(req) {
    let c = req.lastPromise;
    while (c !== null && c.settled) c = c.context;
    req.lastPromise = c;
    return c;
  }

  function newWait(req, type, cheap, stackAbove, extraFrames) {
    if (req.waits.length >= opts.maxWaitsPerRequest) { req.waitsDropped++; return null; }
    const holder = stackAbove === null ? null : stacks.capture(stackAbove, extraFrames);
    const w = record(req, type, cheap, holder);
    req.waits.push(w);
    const bytes = WAIT_BYTES + (holder ? FRAME_BYTES * (opts.stackDepth + extraFrames) : 0);
    req.bytes += bytes;
    account(bytes);
    return w;
  }

  function addHookWait(req, asyncId, type, category, resource) {
    // fs.readFile's open, fstat, read and close are each made in the previous one's callback:
    // one operation, named where the app made the first, so only the first needs a stack.
    const parent = category === 'fs' && runningWait !== null && runningWait.type === 'fs' && runningWait.req === req ? runningWait : null;
    // setImmediate is not waited on (its callback is ready at once): no stack, never charged,
    // but its callback's turn explains the promises it resolves.
    const noStack = category === 'immediate' || parent !== null;
    let cheap = category;
    if (category === 'timer') cheap = timerDetail(resource);
    else if (category === 'crypto') cheap = 'crypto ' + type.replace(/REQUEST$/, '').toLowerCase();
    const w = newWait(req, category, cheap, noStack ? null : init, HOOK_EXTRA_FRAMES);
    if (w === null) return;
    if (parent) w.root = parent.root || parent;
    w.id = asyncId;
    if (category === 'timer') w.due = w.start + (Number(resource._idleTimeout) || 0);
    else if (category === 'dns' || category === 'connect') w.resource = resource; // its fields are set after init
    pendingWaits.set(asyncId, w);
  }

  function timerDetail(timer) {
    const ms = Number(timer && timer._idleTimeout);
    const what = timer && timer._repeat ? 'setInterval' : 'setTimeout';
    // A delay computed per call (a fraction: a deadline minus now) would name every call
    // apart; one name for the call site.
    if (!(ms >= 0)) return what + ' ?';
    return Number.isInteger(ms) ? what + ' ' + ms + ' ms' : what + ' (computed delay)';
  }

  function endHookWait(w) {
    pendingWaits.delete(w.id);
    const t = now();
    if (w.type === 'immediate') endWait(w, w.start);
    else endWait(w, w.type === 'timer' ? Math.min(t, w.due + TIMER_SLACK_MS) : t);
    if (w.resource !== null) {
      w.cheap = resourceDetail(w.type, w.resource);
      w.resource = null;
    }
  }

  function endWait(w, t) {
    if (w.end >= 0) return;
    w.end = t;
    if (!w.req.done) w.req.endTurn = turn;
  }

  function resourceDetail(category, r) {
    if (category === 'dns') return 'dns ' + (r.hostname ? 'lookup ' + r.hostname : r.oncomplete ? 'query' : 'request');
    const where = r.port !== undefined ? r.address + ':' + r.port : r.address;
    return 'connect' + (where ? ' ' + where : '');
  }

  // A promise chained from one of the request's own (`await p`, p.then()) settles after its
  // parent, in the same turn or because of something the request waits on: it can never be a
  // wait of its own, so it is only marked (no stack), to recognise its own children. A promise
  // chained from a foreign one (a shared in-flight promise) is followed like a new one.
  function trackPromise(req, asyncId, triggerAsyncId, promise) {
    if (req.promiseIds.size >= MAX_PENDING_PROMISES) { req.promisesDropped++; return; }
    const chained = triggerAsyncId !== executionAsyncId();
    const parent = chained ? pendingPromises.get(triggerAsyncId) : undefined;
    const derived = parent !== undefined && parent.req === req;
    const rec = derived ? { req, derived: true, op: null } : record(req, 'promise', 'promise', stacks.capture(init, HOOK_EXTRA_FRAMES));
    if (!derived) {
      rec.foreign = chained;
      req.lastPromise = rec;
    }
    pendingPromises.set(asyncId, rec);
    if (recordPromises) promiseRecords.set(promise, rec);
    req.promiseIds.add(asyncId);
    account(derived ? DERIVED_PROMISE_BYTES : PENDING_PROMISE_BYTES);
  }

  function promiseResolve(asyncId) {
    try {
      const rec = pendingPromises.get(asyncId);
      if (rec === undefined) return;
      pendingPromises.delete(asyncId);
      account(rec.derived ? -DERIVED_PROMISE_BYTES : -PENDING_PROMISE_BYTES);
      const req = rec.req;
      if (req.done) return;
      req.promiseIds.delete(asyncId);
      if (rec.op !== null) { endWait(rec.op, now()); return; } // a pg query's own promise
      if (rec.derived) return;
      rec.settled = true;
      // Resolved by its own turn, or by what the request was seen waiting on: not a wait.
      if (rec.turn === turn || req.endTurn === turn) return;
      promiseWait(req, rec);
    } catch (_) { /* never break the app */ }
  }

  // A promise resolved from outside the request (another request's release, a pooled socket).
  function promiseWait(req, rec) {
    if (req.waits.length >= opts.maxWaitsPerRequest) { req.waitsDropped++; return; }
    rec.end = now();
    rec.adopted = adoptable(req, rec);
    req.waits.push(rec);
    req.bytes += WAIT_BYTES;
    account(WAIT_BYTES);
    req.endTurn = turn;
  }

  // The operation a promise was made around: started after the promise, in the same
  // synchronous block or while it was the request's newest promise, and over before it
  // (new Promise(r => http.get(url, ... r(body))) ). The promise takes its detail, since it
  // was waiting on that operation and then some.
  function adoptable(req, rec) {
    let best = null;
    let bestEnd = -1;
    for (const w of req.waits) {
      if (w.type === 'promise' || w.type === 'immediate' || w.start < rec.start) continue;
      if (w.turn !== rec.turn && w.context !== rec) continue;
      const end = w.end >= 0 ? w.end : w.headersAt;
      if (end >= 0 && end <= rec.end && end > bestEnd) { best = w; bestEnd = end; }
    }
    return best;
  }

  // ---------------------------------------------------------------- outgoing HTTP

  function watchOutgoingHttp() {
    subscribe('undici:request:create', onUndiciCreate);
    subscribe('undici:request:headers', (m) => { const w = channelWaits.get(m.request); if (w) headersArrived(w); });
    subscribe('undici:request:trailers', (m) => endChannelWait(m.request));
    subscribe('undici:request:error', (m) => endChannelWait(m.request));
    subscribe('http.client.request.start', onHttpClientStart);
    subscribe('http.client.response.finish', (m) => endChannelWait(m.request));
    subscribe('http.client.request.error', (m) => endChannelWait(m.request));
  }

  function onUndiciCreate(m) {
    const req = current();
    const r = m && m.request;
    if (req === undefined || !r) return;
    const host = String(r.origin || '').replace(/^[a-z]+:\/\//i, '');
    const w = newWait(req, 'fetch', 'fetch ' + (r.method || 'GET') + ' ' + host + normalizePath(r.path), onUndiciCreate, CHANNEL_EXTRA_FRAMES);
    if (w !== null) channelWaits.set(r, w);
  }

  function onHttpClientStart(m) {
    const req = current();
    const r = m && m.request;
    if (req === undefined || !r) return;
    let host = '';
    try { host = String(r.getHeader('host') || r.host || ''); } catch (_) { host = String(r.host || ''); }
    const w = newWait(req, 'http', 'http ' + (r.method || 'GET') + ' ' + host + normalizePath(r.path), onHttpClientStart, CHANNEL_EXTRA_FRAMES);
    if (w !== null) channelWaits.set(r, w);
  }

  // Response headers: what `await fetch()` waits for. The body may follow in a later turn.
  function headersArrived(w) {
    if (w.headersAt < 0) w.headersAt = now();
    if (!w.req.done) w.req.endTurn = turn;
  }

  function endChannelWait(key) {
    const w = key ? channelWaits.get(key) : undefined;
    if (w === undefined) return;
    channelWaits.delete(key);
    endWait(w, now());
  }

  // ---------------------------------------------------------------- library channels

  // TracingChannels published by the libraries themselves (subscribing costs nothing if the
  // library is absent). start runs in the caller's context; asyncStart/error when it is over.
  const LIBRARY_CHANNELS = [
    ['mysql2:query', 'mysql2 query', 'mysql2'], ['mysql2:execute', 'mysql2 execute', 'mysql2'],
    ['ioredis:command', 'redis', 'ioredis'], ['node-redis:command', 'redis', 'node-redis'],
    ['mssql:query', 'mssql query', 'mssql'], ['mssql:execute', 'mssql execute', 'mssql'],
    ['mssql:batch', 'mssql batch', 'mssql'], ['mssql:pool:acquire', 'mssql pool acquire', 'mssql'],
  ];
  const publishedLibraries = new Set();

  function watchLibraryChannels() {
    if (typeof dc.tracingChannel !== 'function') {
      unseen.add('no diagnostics_channel.tracingChannel on Node ' + process.version + ': mysql2, ioredis, node-redis and mssql operations show only as promises and sockets');
      return;
    }
    for (const [name, label, library] of LIBRARY_CHANNELS) {
      const channel = dc.tracingChannel(name);
      const handlers = {
        start: guard((ctx) => { publishedLibraries.add(library); onLibraryStart(ctx, label, handlers.start); }),
        asyncStart: guard((ctx) => endChannelWait(ctx)),
        error: guard((ctx) => endChannelWait(ctx)),
      };
      channel.subscribe(handlers);
      undo.push(() => channel.unsubscribe(handlers));
    }
  }

  function onLibraryStart(ctx, label, above) {
    const req = current();
    if (req === undefined || !ctx || typeof ctx !== 'object') return;
    const text = ctx.query || ctx.sql || ctx.statement || ctx.command || '';
    const detail = label + (text ? ' ' + (label === 'redis' ? String(text).toUpperCase() : normalizeSql(text)) : '');
    const w = newWait(req, 'db', detail, above, CHANNEL_EXTRA_FRAMES);
    if (w !== null) channelWaits.set(ctx, w);
  }

  // ---------------------------------------------------------------- pg

  // pg publishes no channel: its query methods are wrapped for the window. The module cache is
  // looked at now and every second (pg may be loaded lazily).
  function watchPg() {
    const Module = load('module');
    const wrapped = new Set();
    const scan = guard(() => scanForPg(Module, wrapped));
    scan();
    const timer = setInterval(scan, 1000);
    timer.unref();
    undo.push(() => clearInterval(timer));
  }

  function scanForPg(Module, wrapped) {
    const cache = Module && Module._cache;
    if (!cache) return;
    for (const file of Object.keys(cache)) {
      if (!/[\\/]node_modules[\\/](pg[\\/]lib[\\/](native[\\/])?client|pg-pool[\\/]index)\.js$/.test(file)) continue;
      const exported = cache[file] && cache[file].exports;
      const proto = typeof exported === 'function' && exported.prototype;
      if (!proto || wrapped.has(proto)) continue;
      wrapped.add(proto);
      recordPromises = true;
      if (/pg-pool/.test(file)) {
        wrapMethod(proto, 'query', pgPoolQuery);
        wrapMethod(proto, 'connect', pgPoolConnect);
      } else wrapMethod(proto, 'query', pgClientQuery);
    }
  }

  // Replaces proto[key] with make(original); stop() puts the original back, or, if someone
  // wrapped it again meanwhile, leaves ours in place as a pass-through.
  function wrapMethod(proto, key, make) {
    const original = proto[key];
    if (typeof original !== 'function' || !Object.prototype.hasOwnProperty.call(proto, key)) return;
    const state = { on: true };
    const wrapper = make(original, state);
    proto[key] = wrapper;
    undo.push(() => {
      state.on = false;
      if (proto[key] === wrapper) proto[key] = original;
      else notes.add('pg\'s ' + key + '() was wrapped again by someone else during the trace: the trace\'s wrapper stays, as a pass-through');
    });
  }

  let inPoolQuery = false; // pg-pool's query() is calling connect() synchronously
  let inPoolCallback = false; // the connect callback of a pool.query(): its client.query() is covered

  function pgClientQuery(original, state) {
    return function query(config, values, callback) {
      const req = state.on && !inPoolCallback ? current() : undefined;
      if (req === undefined) return original.apply(this, arguments);
      return timedQuery(original, this, arguments, req, query, config);
    };
  }

  function pgPoolQuery(original, state) {
    return function query(text, values, cb) {
      const req = state.on ? current() : undefined;
      if (req === undefined) return original.apply(this, arguments);
      const prev = inPoolQuery;
      inPoolQuery = true;
      try { return timedQuery(original, this, arguments, req, query, text); } finally { inPoolQuery = prev; }
    };
  }

  // Times one query: from the call to its callback, or to its promise's resolution (found by
  // the promise object, so no handler is attached to the app's promise).
  function timedQuery(original, self, argsIn, req, above, config) {
    if (config && typeof config.submit === 'function') {
      unseen.add('pg queries passed as Submittable objects (cursors, streams) were not timed');
      return original.apply(self, argsIn);
    }
    const w = guard(newWait)(req, 'pg', 'pg query ' + normalizeSql(config && typeof config === 'object' ? config.text : config), above, HOOK_EXTRA_FRAMES);
    const args = Array.prototype.slice.call(argsIn);
    const at = typeof args[1] === 'function' ? 1 : typeof args[2] === 'function' ? 2 : -1;
    if (w && at >= 0) args[at] = endsFirst(w, args[at]);
    const result = original.apply(self, args); // a throw leaves the wait unended: never charged
    if (w && at < 0) guard(markPromise)(result, w);
    return result;
  }

  function endsFirst(w, callback) {
    return function queryCallback() {
      guard(endWait)(w, now());
      return callback.apply(this, arguments);
    };
  }

  // No promise (a config object with its own callback): the wait stays unended, uncharged.
  function markPromise(result, w) {
    if (!result || typeof result.then !== 'function') return;
    const rec = promiseRecords.get(result);
    if (rec !== undefined) rec.op = w;
    else unseen.add('a pg query returned a promise the trace did not see created (a custom Promise library?): its time is not named');
  }

  // pool.connect(cb): the wait for a client. Its callback is run in the caller's request
  // (pg-pool calls it from whichever request released the client), for this trace's store only.
  function pgPoolConnect(original, state) {
    return function connect(cb) {
      const req = state.on ? current() : undefined;
      if (req === undefined) return original.apply(this, arguments);
      const fromQuery = inPoolQuery;
      const w = fromQuery ? null : guard(newWait)(req, 'pg', 'pg pool connect', connect, HOOK_EXTRA_FRAMES);
      if (typeof cb !== 'function') {
        const result = original.apply(this, arguments);
        if (w) guard(markPromise)(result, w);
        return result;
      }
      return original.call(this, inRequest(req, w, fromQuery, cb));
    };
  }

  function inRequest(req, w, fromQuery, cb) {
    return function connected() {
      if (!active) return cb.apply(this, arguments);
      if (w) guard(endWait)(w, now());
      const args = arguments;
      const self = this;
      const prev = inPoolCallback;
      inPoolCallback = fromQuery;
      try { return als.run(req, () => cb.apply(self, args)); } finally { inPoolCallback = prev; }
    };
  }

  // ---------------------------------------------------------------- attribution

  // Charges each instant of [start, end] to the pending wait that ends last, else running,
  // else queued. Waits still pending at the end did not hold the response and get nothing.
  function attribute(req) {
    const from = req.start;
    const to = req.end;
    const spans = [];
    const cuts = [from, to];
    for (const w of req.waits) {
      const end = w.end >= 0 ? w.end : w.headersAt;
      const s = Math.max(w.start, from);
      const e = Math.min(end, to);
      if (end < 0 || e <= s) continue;
      spans.push({ w, s, e, ms: 0 });
      cuts.push(s, e);
    }
    const runs = req.runs;
    for (const x of runs) if (x > from && x < to) cuts.push(x);
    cuts.sort((a, b) => a - b);
    spans.sort((a, b) => a.s - b.s);
    return sweep(cuts, spans, runs);
  }

  function sweep(cuts, spans, runs) {
    let running = 0;
    let queued = 0;
    let next = 0;
    let r = 0;
    const active = [];
    for (let i = 0; i + 1 < cuts.length; i++) {
      const a = cuts[i];
      const len = cuts[i + 1] - a;
      if (len <= 0) continue;
      const mid = a + len / 2;
      while (next < spans.length && spans[next].s <= mid) active.push(spans[next++]);
      let best = null;
      for (let k = active.length - 1; k >= 0; k--) {
        const x = active[k];
        if (x.e <= mid) active.splice(k, 1);
        else if (best === null || x.e >= best.e) best = x;
      }
      if (best !== null) { best.ms += len; continue; }
      while (r < runs.length && runs[r + 1] <= mid) r += 2;
      if (r < runs.length && runs[r] <= mid) running += len;
      else queued += len;
    }
    return { spans, running, queued };
  }

  // Per request: time per operation (same detail and call path), how many of its waits were
  // started together (the largest group) and how many groups it awaited in sequence.
  function summarise(req, att) {
    const groupOf = (w) => { const r = w.root || w; return r.turn + '\u0000' + r.cheap; };
    const groupSizes = new Map();
    for (const x of att.spans) {
      if (x.w.root) continue; // a later step of one operation, not a wait in parallel
      const g = groupOf(x.w);
      groupSizes.set(g, (groupSizes.get(g) || 0) + 1);
    }
    const ops = new Map();
    for (const x of att.spans) {
      if (x.ms <= 0) continue;
      const d = stacks.describe(x.w);
      let e = ops.get(d.key);
      if (e === undefined) ops.set(d.key, e = { d, ms: 0, parallel: 1, groups: new Set() });
      const g = groupOf(x.w);
      e.ms += x.ms;
      e.groups.add(g);
      e.parallel = Math.max(e.parallel, groupSizes.get(g) || 1);
    }
    return {
      latency: req.end - req.start, running: att.running, queued: att.queued, ops,
      awaitedNothing: att.spans.length === 0, waitsDropped: req.waitsDropped, promisesDropped: req.promisesDropped,
    };
  }

  function mergeSummary(kind, s) {
    kind.finished++;
    kind.latencies.push(s.latency);
    kind.totalMs += s.latency;
    kind.runningMs += s.running;
    kind.queuedMs += s.queued;
    if (s.awaitedNothing) kind.nothingAwaited++;
    if (s.waitsDropped) kind.waitsDropped++;
    if (s.promisesDropped) kind.promisesDropped++;
    for (const [key, e] of s.ops) {
      let op = kind.ops.get(key);
      if (op === undefined) {
        op = { detail: e.d.detail, frames: e.d.frames, charged: [], parallel: 1, sequential: 0 };
        kind.ops.set(key, op);
        account(SUMMARY_BYTES + FRAME_BYTES * op.frames.length);
      }
      op.charged.push(e.ms);
      op.parallel = Math.max(op.parallel, e.parallel);
      op.sequential += e.groups.size;
    }
  }

  // ---------------------------------------------------------------- report

  // Database clients loaded in this process but older than their TracingChannels. (HTTP/2
  // servers are not traced either, having no request channel, but loading http2 says
  // nothing: pg loads it.)
  function lookForUnseen() {
    const cache = guard(() => load('module')._cache)() || {};
    const files = Object.keys(cache).join('\n');
    for (const [pkg, label] of [['mysql2', 'mysql2'], ['ioredis', 'ioredis'], ['@redis/client', 'node-redis'], ['mssql', 'mssql']]) {
      if (files.includes('/node_modules/' + pkg + '/') && !publishedLibraries.has(label)) {
        unseen.add(pkg + ' is loaded but published nothing on its diagnostics channels during the trace (older versions have none): its operations show as promises and sockets');
      }
    }
  }

  function buildReport(stoppedAt) {
    lookForUnseen();
    const out = [];
    for (const kind of kinds.values()) out.push(kindReport(kind, stoppedAt));
    out.sort((a, b) => b.requests - a.requests);
    const allNotes = Array.from(notes);
    if (dropped.kinds) allNotes.push(dropped.kinds + ' requests had a header value beyond the first ' + opts.maxKinds + ' kinds and were not traced');
    if (dropped.memory) allNotes.push('the trace\'s bookkeeping reached its memory cap (' + opts.maxMemoryBytes + ' bytes): ' + dropped.memory + ' requests were not traced');
    return {
      version: 1, pid: process.pid, node: process.version, header: opts.header,
      startedAt, durationMs: round(stoppedAt - startedPerf, 1),
      kinds: out, unseen: Array.from(unseen), notes: allNotes,
      memoryBytes: Math.max(0, Math.round(peakMemory)), stopMs: 0,
    };
  }

  function kindReport(kind, stoppedAt) {
    const total = kind.totalMs;
    const share = (ms) => (total > 0 ? round(ms / total, 3) : 0);
    const ops = Array.from(kind.ops.values());
    for (const op of ops) op.sum = op.charged.reduce((a, b) => a + b, 0);
    ops.sort((a, b) => b.sum - a.sum);
    const named = nameOperations(ops, TOP_OPERATIONS);
    const top = ops.slice(0, TOP_OPERATIONS).map((op, i) => operationReport(op, named[i], kind, share));
    const otherMs = ops.slice(TOP_OPERATIONS).reduce((a, op) => a + op.sum, 0);
    const unfinished = unfinishedReport(kind, stoppedAt);
    return {
      kind: kind.name, requests: kind.finished, droppedRequests: kind.droppedRequests,
      latencyMs: {
        p50: round(percentile(kind.latencies, 0.5), 2), p90: round(percentile(kind.latencies, 0.9), 2),
        mean: round(kind.finished ? total / kind.finished : 0, 2),
      },
      running: share(kind.runningMs), queued: share(kind.queuedMs),
      operations: top, otherOperations: share(otherMs),
      unfinished, notes: kindNotes(kind, unfinished),
    };
  }

  function operationReport(op, name, kind, share) {
    return {
      name, detail: op.detail, path: op.frames.map((f) => ({ function: f.fn || null, file: f.file, line: f.line, column: f.col })),
      count: op.charged.length, parallel: op.parallel,
      perRequest: round(op.sequential / op.charged.length, 2), // waits in sequence per request
      chargedMs: { p50: round(percentile(op.charged, 0.5), 2), p90: round(percentile(op.charged, 0.9), 2) },
      share: share(op.sum),
    };
  }

  // Requests of this kind still open at stop: their age and what they were waiting on.
  // Requests of this kind still open at stop: how many, the oldest's age, what they were
  // waiting on. Open for far longer than the kind's finished requests take (or than a
  // second, if none finished) is stuck; younger ones were merely in flight.
  function unfinishedReport(kind, stoppedAt) {
    const stuckAfter = Math.max(1000, 5 * percentile(kind.latencies, 0.9));
    let count = 0;
    let stuck = 0;
    let oldest = 0;
    const waiting = new Map();
    for (const req of live) {
      if (req.kind !== kind) continue;
      const age = stoppedAt - req.start;
      count++;
      oldest = Math.max(oldest, age);
      if (age < stuckAfter) continue;
      if (++stuck > 20) continue; // naming is bounded; counting is not
      for (const name of pendingNames(req)) waiting.set(name, (waiting.get(name) || 0) + 1);
    }
    if (count === 0) return null;
    const waitingOn = Array.from(waiting, ([name, n]) => ({ name, count: n })).sort((a, b) => b.count - a.count).slice(0, 5);
    return { count, stuck, oldestMs: round(oldest, 1), waitingOn };
  }

  // Its pending waits (a timer, a socket connect) and its newest pending promise, the
  // innermost await of the chain it is stuck in.
  function pendingNames(req) {
    const names = new Set();
    for (const w of req.waits) if (w.end < 0 && w.type !== 'immediate' && names.size < 3) names.add(stacks.label(stacks.describe(w)));
    const newest = contextOf(req);
    if (newest !== null) names.add(stacks.label(stacks.describe(newest)));
    return names;
  }

  function kindNotes(kind, unfinished) {
    const out = [];
    const n = kind.finished;
    if (unfinished && unfinished.stuck > 0) {
      out.push(unfinished.stuck + ' traced request(s) were still open at stop, for up to ' + unfinished.oldestMs + ' ms, far longer than this kind\'s requests take: a handler that never answers, or a client that went away; they are not in the figures' +
        (unfinished.waitingOn.length ? ' (waiting on ' + unfinished.waitingOn.map((x) => x.name).join('; ') + ')' : ' (waiting on nothing the trace could see)'));
    }
    if (n > 0 && kind.nothingAwaited > 0) out.push(kind.nothingAwaited + ' of ' + n + ' requests awaited nothing the trace could see: their time is running or queued');
    if (kind.waitsDropped) out.push(kind.waitsDropped + ' request(s) had more than ' + opts.maxWaitsPerRequest + ' waits; the later ones were not recorded, so their time shows under earlier waits or as queued');
    if (kind.promisesDropped) out.push(kind.promisesDropped + ' request(s) had more than ' + MAX_PENDING_PROMISES + ' promises pending at once (a long chain?); the others were not followed');
    if (kind.runsMerged) out.push('requests ran more than ' + MAX_RUNS + ' separate callbacks; later ones were merged, so running is overstated');
    return out;
  }

  return { begin, stop };
}

// ------------------------------------------------------------------ stacks and names

// Captures stacks cheaply (V8 formats them only when .stack is read) and reads them as
// frames through a prepareStackTrace of our own, installed only for that read.
function stackReader(opts) {
  const captureStackTrace = Error.captureStackTrace;
  const root = opts.appRoot.replace(/[\\/]+$/, '');

  function capture(above, extra) {
    const saved = Error.stackTraceLimit;
    const holder = {};
    try { Error.stackTraceLimit = opts.stackDepth + extra; } catch (_) { /* frozen: the app's limit */ }
    try { captureStackTrace(holder, above); } catch (_) { /* no stack: named by its detail only */ }
    try { if (Error.stackTraceLimit !== saved) Error.stackTraceLimit = saved; } catch (_) { /* unchanged */ }
    return holder;
  }

  // The holder's stack as CallSites (or frames parsed from a string, if an app froze
  // Error.prepareStackTrace), read once through our own prepareStackTrace.
  function sites(holder) {
    if (!holder) return [];
    const saved = Error.prepareStackTrace;
    let stack;
    try { Error.prepareStackTrace = passCallSites; } catch (_) { /* frozen: the app's formatter, parsed */ }
    try { stack = holder.stack; } catch (_) { stack = undefined; }
    try { if (Error.prepareStackTrace !== saved) Error.prepareStackTrace = saved; } catch (_) { /* unchanged */ }
    if (Array.isArray(stack)) return stack;
    return typeof stack === 'string' ? parseStack(stack) : [];
  }

  // Where a record was made: its app frames (innermost first, paths relative) and the function
  // the app called into (Pool.acquire, readFile), read once. Only each frame's file and line
  // are read first; names only when that sequence of places is new (most repeat).
  const places = new Map();
  function placeOf(r) {
    if (r.place) return r.place;
    const all = sites(r.holder);
    r.holder = null; // read: the captured frames can go
    const files = all.map(siteFile);
    const appAt = [];
    for (let i = 0; i < all.length && appAt.length < opts.stackDepth; i++) if (isAppFile(files[i])) appAt.push(i);
    const entryAt = entryIndex(files, appAt.length ? appAt[0] : all.length);
    const key = appAt.concat(entryAt >= 0 ? [entryAt] : []).map((i) => files[i] + ':' + siteLine(all[i])).join('\u0000');
    let place = places.get(key);
    if (place === undefined) {
      place = { app: appAt.map((i) => relative(siteFrame(all[i]), files[i])), entry: entryAt >= 0 ? siteFrame(all[entryAt]) : null };
      if (places.size >= 5000) places.clear();
      places.set(key, place);
    }
    r.place = place;
    return place;
  }

  // The frame just inside the first app frame, skipping native frames (new Promise) and
  // async_hooks' own; -1 if there is none.
  function entryIndex(files, firstApp) {
    for (let i = firstApp - 1; i >= 0; i--) {
      if (!files[i]) continue;
      return /^(node:)?internal\/(async_hooks|promise_hooks)/.test(files[i]) ? -1 : i;
    }
    return -1;
  }

  // A wait made inside a library or a nextTick (fs.promises' reads, http.request's start)
  // shows no app frame: it takes the place of the app call it is part of.
  function placeWithApp(w) {
    const own = placeOf(w);
    if (own.app.length) return own;
    for (let c = w.context, n = 0; c && n < 8; c = c.context, n++) {
      const p = placeOf(c);
      if (p.app.length) return p;
    }
    return own;
  }

  // The operation and its call path, computed once per wait.
  function describe(w) {
    if (w.desc) return w.desc;
    if (w.root) return (w.desc = describe(w.root));
    const place = placeWithApp(w);
    const detail = w.adopted ? describe(w.adopted).detail : detailOf(w, place.entry);
    // By line: `await f()` seen as a call (first run) and as an async frame (later) is one call.
    const key = detail + '\n' + place.app.map((f) => f.fn + '@' + f.file + ':' + f.line).join('\n');
    w.desc = { detail, frames: place.app, key };
    return w.desc;
  }

  function detailOf(w, entry) {
    if (w.type === 'fs') return 'fs ' + (entry && entry.fn ? entry.fn.replace(/^Object\./, '') : 'operation');
    if (w.type !== 'promise') return w.cheap;
    if (w.foreign) return 'promise shared with other requests (created outside this one)';
    return 'promise' + (entry ? ' from ' + libraryLabel(entry) : '');
  }

  function isAppFile(file) {
    if (!file || file.startsWith('node:') || file.startsWith('internal/') || file.startsWith('wasm://')) return false;
    if (/[\\/]node_modules[\\/]/.test(file)) return false;
    if (opts.selfFile && file === opts.selfFile) return false;
    return !/iotrace\.cjs$|[\\/]probe\.cjs$/.test(file);
  }

  function relative(f, file) {
    if (file.startsWith('file://')) {
      try { file = decodeURIComponent(file.slice(7)); } catch (_) { /* keep the URL */ }
    }
    if (root && file.startsWith(root + '/')) file = file.slice(root.length + 1);
    return { fn: f.fn, file, line: f.line, col: f.col };
  }

  // "Pool.acquire (generic-pool)", "fetch (node)": the function the app called into.
  function libraryLabel(f) {
    const m = /[\\/]node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)/.exec(f.file || '');
    const where = m ? m[1].replace(/\\/g, '/') : f.file && (f.file.startsWith('node:') || f.file.startsWith('internal/')) ? 'node' : '';
    if (!f.fn) return (where || 'library') + ' internals';
    return f.fn + (where ? ' (' + where + ')' : '');
  }

  function label(d) {
    return displayPath(d.frames, 0, 2) + d.detail;
  }

  return { capture, describe, label };
}

function passCallSites(error, callSites) {
  return callSites;
}

// A CallSite's file (a parsed frame has it already).
function siteFile(s) {
  if (!s.getFileName) return s.file;
  try { return String(s.getFileName() || (s.getScriptNameOrSourceURL && s.getScriptNameOrSourceURL()) || ''); } catch (_) { return ''; }
}

function siteLine(s) {
  if (!s.getLineNumber) return s.line;
  try { return s.getLineNumber() || 0; } catch (_) { return 0; }
}

function siteFrame(s) {
  if (!s.getFileName) return s;
  try { return callSiteFrame(s); } catch (_) { return { fn: '', file: siteFile(s), line: siteLine(s), col: 0 }; }
}

// Like V8's own "Type.method" naming, from a CallSite.
function callSiteFrame(cs) {
  const fn = cs.getFunctionName();
  let type = null;
  try { type = cs.isToplevel() ? null : cs.getTypeName(); } catch (_) { type = null; }
  const method = cs.getMethodName && cs.getMethodName();
  let name = fn || method || '';
  if (type && type !== 'Object' && name && !name.startsWith(type + '.')) name = type + '.' + name;
  const file = cs.getFileName() || (cs.getScriptNameOrSourceURL && cs.getScriptNameOrSourceURL()) || '';
  return { fn: name, file: String(file), line: cs.getLineNumber() || 0, col: cs.getColumnNumber() || 0 };
}

// When our prepareStackTrace was not used (an app froze Error.prepareStackTrace).
function parseStack(stack) {
  const out = [];
  for (const raw of stack.split('\n').slice(1)) {
    let s = raw.trim();
    if (!s.startsWith('at ')) continue;
    s = s.slice(3).replace(/^async /, '');
    let fn = '';
    const paren = s.lastIndexOf(' (');
    if (paren > 0 && s.endsWith(')')) { fn = s.slice(0, paren); s = s.slice(paren + 2, -1); }
    const m = /^(.*):(\d+):(\d+)$/.exec(s);
    if (m) out.push({ fn: fn.replace(/ \[as [^\]]+\]$/, ''), file: m[1], line: +m[2], col: +m[3] });
  }
  return out;
}

// Names each operation of a kind by its call path trimmed to the frames that tell it from
// the kind's other operations: frames shared with another operation's path (a helper such as
// query() or sleep()) are kept, and the path extends outwards to the first frame that
// differs, and to at least one named function. ops is sorted; returns names in its order.
function nameOperations(ops, count) {
  const keys = ops.map((op) => op.frames.map((f) => f.fn + '@' + f.file + ':' + f.line));
  return ops.slice(0, count).map((op, i) => {
    const path = keys[i];
    let k = 0;
    while (k < path.length - 1 && sharesPrefix(keys, i, k)) k++;
    while (k < path.length - 1 && !op.frames[k].fn) k++;
    return displayPath(op.frames, k, 2) + (op.parallel > 1 ? op.parallel + ' × ' : '') + op.detail;
  });
}

// Does another operation's path have the same frames 0..k as operation i (a shared helper)?
function sharesPrefix(keys, i, k) {
  const path = keys[i];
  for (let j = 0; j < keys.length; j++) {
    if (j === i || keys[j].length <= k || keys[j].join('\n') === path.join('\n')) continue;
    let same = true;
    for (let x = 0; x <= k && same; x++) same = keys[j][x] === path[x];
    if (same) return true;
  }
  return false;
}

// "outer (file:line) → inner (file:line) → ": frames 0..k and on until `min` are shown, with
// inline anonymous callbacks (a Promise executor on its caller's line) left out; a long
// middle is elided.
function displayPath(frames, k, min) {
  const parts = [];
  for (let i = 0; i < frames.length && (i <= k || parts.length < min); i++) {
    const f = frames[i];
    const outer = frames[i + 1];
    if (!f.fn && outer && outer.file === f.file && outer.line === f.line) continue;
    parts.unshift((f.fn || 'anonymous') + ' (' + basename(f.file) + ':' + f.line + ')');
  }
  if (parts.length > 4) parts.splice(1, parts.length - 3, '…');
  return parts.length ? parts.join(' → ') + ' → ' : '';
}

// ------------------------------------------------------------------ small helpers

function basename(file) {
  const i = Math.max(file.lastIndexOf('/'), file.lastIndexOf('\\'));
  return i >= 0 ? file.slice(i + 1) : file;
}

// SQL text without its literals: 'x' and 42 become ?, $1 placeholders stay, lists collapse.
function normalizeSql(text) {
  let s = String(text === undefined || text === null ? '' : text).replace(/\s+/g, ' ').trim();
  s = s.replace(/'(?:[^']|'')*'/g, '?');
  s = s.replace(/(^|[^\w$.])-?\d+(?:\.\d+)?(?![\w.])/g, '$1?');
  s = s.replace(/\(\s*\?(?:\s*,\s*\?)+\s*\)/g, '(?, …)');
  return s.length > 200 ? s.slice(0, 199) + '…' : s;
}

// A URL path without its query and with id-like segments as :id, so that /items/42?x=1 and
// /items/43 are one operation.
function normalizePath(path) {
  const p = String(path || '/');
  const q = p.indexOf('?');
  const bare = q >= 0 ? p.slice(0, q) : p;
  const segments = bare.split('/').map((seg) => (/^\d+$|^[0-9a-f-]{16,}$/i.test(seg) && /\d/.test(seg) ? ':id' : seg));
  return segments.join('/') + (q >= 0 ? '?…' : '');
}

function percentile(values, q) {
  if (!values.length) return 0;
  const sorted = Float64Array.from(values).sort(); // numeric, and much faster than a comparator
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)];
}

function round(x, digits) {
  const f = Math.pow(10, digits);
  return Math.round(x * f) / f;
}

module.exports = { start };
