'use strict';
/*
 * harness probe: preloaded into every Node process of the target app with
 *   NODE_OPTIONS="--require /path/probe.cjs"
 * It samples runtime metrics every HARNESS_PROBE_INTERVAL ms (default 100) and
 * streams them to harness over the Unix socket named by HARNESS_PROBE_SOCKET,
 * as newline-delimited JSON in both directions. Every message carries `pid`;
 * each process (including forked/spawned node children, which inherit the env)
 * opens its own connection. Worker threads are skipped (same pid, same memory).
 * Optional: HARNESS_PROBE_GC=observer (default) | profiler | off (see "gc" below);
 * HARNESS_PROBE_CLOSE_INSPECTOR=1 (attached through an inspector harness opened: closed
 * by the probe, if still open, once harness's socket closes or breaks).
 *
 * Rules: never change the app's behaviour. No env var -> do nothing. No output,
 * nothing thrown, every callback in try/catch, socket and timers unref()'d, and
 * any socket error or close silently disables the probe. Samples and warnings
 * are dropped while more than 1 MB is unsent. Writes never block the app.
 *
 * probe -> harness
 *   {"type":"hello","pid","ppid","node","argv","interval","heapSizeLimit","gcProfiler"}
 *   {"type":"sample","pid",
 *    "delay":{"p50","p99","max"}  ms a 10 ms timer fired late, this interval only,
 *    "elu"                        event-loop utilisation 0..1, this interval only,
 *    "memory":{"rss","heapTotal","heapUsed","external","arrayBuffers"}  bytes,
 *    "gc":[{"kind":"minor"|"major"|"incremental"|"weakcb","ms","heapAfter"?}]  GCs since
 *       the last sample. heapAfter (used heap after the GC): on "major" events only, and
 *       approximate, unless hello said gcProfiler:true (HARNESS_PROBE_GC=profiler, exact,
 *       on every event, but costly). Always [] with HARNESS_PROBE_GC=off,
 *    "gcDropped"?                 events beyond 1000 in this interval,
 *    "gcObserved"?:false          GC events were not observed in this interval (a process
 *       collecting ~50+ times a second is observed one interval in ten; see GC_BUSY),
 *    "handles"?:{type: count}}    process.getActiveResourcesInfo() by type. Node lists
 *       only ref'd handles and timers; the probe's socket and timers are unref()'d, so
 *       they are not counted. An in-flight socket write of the probe ("WriteWrap", only
 *       where it has no descriptor to write to) is subtracted.
 *   {"type":"warning","pid","name","message","stack","code"?,"location":"file:line:col"|null,
 *    plus "event","count","emitter" for MaxListenersExceededWarning}
 *   {"type":"floor","pid","id","heapUsed","heapTotal","external","arrayBuffers","rss","ms"}
 * harness -> probe
 *   {"type":"gc","id":ID}  two full GCs, then a "floor" reply (these GCs are not reported
 *                          as gc events)
 *   {"type":"snapshot","id":ID,"path":P,"maxHeap":BYTES}
 *                          writes a heap snapshot to P (it blocks the process; harness asks
 *                          only outside the measured window) unless the used heap is over
 *                          maxHeap after a full GC; replies {"type":"snapshot","pid","id","ms","heapUsed",
 *                          "skipped"?,"error"?}
 *   {"type":"sampling","action":"start","garbage"?:true}
 *                          starts V8's sampling heap profiler (HeapProfiler.startSampling
 *                          through an in-process inspector session); with garbage, objects
 *                          that the collector has freed since stay in the profile (where the
 *                          garbage comes from)
 *   {"type":"sampling","action":"stop","id":ID}
 *                          replies {"type":"allocations","pid","id","sites":[{"function",
 *                          "url","line","column","bytes"}],"error"?}: where the sampled
 *                          objects still alive now were allocated, biggest first, and stops
 *   {"type":"profile","action":"start","interval":US}
 *                          starts V8's CPU profiler (Profiler.start through an in-process
 *                          inspector session), one sample every US microseconds
 *   {"type":"profile","action":"stop","id":ID,"path":P}
 *                          stops it and writes the profile (.cpuprofile JSON) to P; replies
 *                          {"type":"profile","pid","id","samples","error"?}
 *   {"type":"iotrace","action":"start","header":H}
 *                          starts the I/O trace (iotrace.cjs beside this file, loaded only
 *                          now): requests carrying header H are traced, grouped by its value
 *   {"type":"iotrace","action":"stop","id":ID}
 *                          stops it, removing every hook; replies {"type":"iotrace","pid",
 *                          "id","report":{...}} (iotrace.cjs documents the report), or
 *                          {"error"} when it was not running
 *   {"type":"stop"}        stop sampling, close the socket
 */
const SOCKET = process.env.HARNESS_PROBE_SOCKET;
const KEY = Symbol.for('harness.probe.loaded');

function isMainThread() {
  try { return require('worker_threads').isMainThread; } catch (_) { return true; }
}

if (SOCKET && !process[KEY] && isMainThread()) {
  try {
    // Configurable: an attached harness loads the probe into a running process, and a
    // later one may load it again once this one has stopped.
    Object.defineProperty(process, KEY, { value: true, configurable: true });
    start();
  } catch (_) { /* never break the app */ }
}

function start() {
  const net = require('net');
  const fs = require('fs');
  const v8 = require('v8');
  const perf = require('perf_hooks');
  const performance = perf.performance;

  const parsed = parseInt(process.env.HARNESS_PROBE_INTERVAL, 10);
  const INTERVAL = parsed > 0 ? Math.max(parsed, 10) : 100;
  const MAX_BUFFERED = 1024 * 1024;
  const MAX_GC_EVENTS = 1000;
  const MAX_DELAYS = 100000;
  const RESOLUTION_MS = 10;
  const pid = process.pid;
  // GC events come from a PerformanceObserver on 'gc' entries by default. v8.GCProfiler
  // also gives the heap size after each GC, but its per-GC JSON bookkeeping costs ~10 % of
  // a hello-world server's throughput, so it is used only when asked for
  // (HARNESS_PROBE_GC=profiler) or when there is no PerformanceObserver.
  // HARNESS_PROBE_GC=off: no GC events at all (the cheapest).
  const GC_MODE = process.env.HARNESS_PROBE_GC || 'observer';
  // Attached through an inspector harness opened: when harness's socket closes or breaks,
  // the probe closes the inspector if harness has not (a second Ctrl-C, SIGKILL).
  const CLOSE_INSPECTOR = process.env.HARNESS_PROBE_CLOSE_INSPECTOR === '1';
  const useProfiler = GC_MODE !== 'off' && typeof v8.GCProfiler === 'function' &&
    (GC_MODE === 'profiler' || typeof perf.PerformanceObserver !== 'function');
  const hasElu = !!(performance && performance.eventLoopUtilization);

  let active = true;
  let timer = null;
  let ticker = null;
  let delays = [];
  let lastTick = performance.now();
  let lastElu = hasElu ? performance.eventLoopUtilization() : null;
  let profiler = null;
  let observer = null;

  // Node creates a performance entry for every collection, and that costs a busy server
  // about 4 % of its CPU (the observer's callback is not the cost: an empty one costs the
  // same). So when an observed interval had GC_BUSY or more collections (~50 a second), GC
  // events are observed for one interval in GC_EVERY only, and each sample says whether it
  // was observed ("gcObserved": false when not). Quieter processes are observed throughout.
  const GC_BUSY = 5;
  const GC_EVERY = 10;
  let onGcEntries = () => {};
  let gcObserving = false;
  let gcWhole = true; // the current interval has been observed from its start
  let gcBusy = false;
  let gcTurn = 0;

  let gcEvents = [];
  let gcDropped = 0;
  let gcFn = null;
  let forced = []; // [from, to] performance.now() windows of our own forced GCs
  let inbox = '';

  function guard(fn) {
    return function () { try { return fn.apply(this, arguments); } catch (_) { /* ignore */ } };
  }

  // Reads go through the socket; writes go straight to its file descriptor with
  // fs.writeSync (non-blocking: libuv opened it so). Writing through net.Socket would run
  // the app's own stream write path with a Unix-socket handle as well as its TCP ones,
  // which left V8's code for that path polymorphic and a busy HTTP server measurably
  // slower. Where there is no descriptor (not Linux/macOS) the socket writes as usual.
  const socket = net.createConnection(SOCKET);
  socket.unref();
  socket.setEncoding('utf8');
  socket.on('error', () => disable(false));
  socket.on('close', () => disable(false));
  socket.on('data', guard(onData));
  socket.on('connect', guard(onConnect));
  let fd = -1;
  let connected = false;
  let outbox = []; // Buffers not yet written, in order
  let outboxBytes = 0;

  function onConnect() {
    connected = true;
    const handleFd = socket._handle && socket._handle.fd;
    if (typeof handleFd === 'number' && handleFd >= 0) { fd = handleFd; flush(); return; }
    for (const b of outbox.splice(0)) socket.write(b); // the socket queues them now
    outboxBytes = 0;
  }

  // force: hello/floor are replies and always written; samples and warnings are droppable.
  function send(msg, force) {
    if (!active || socket.destroyed) return;
    if (!force && queued() > MAX_BUFFERED) return;
    const b = Buffer.from(JSON.stringify(msg) + '\n');
    if (connected && fd < 0) { socket.write(b); return; }
    outbox.push(b);
    outboxBytes += b.length;
    flush();
  }

  function queued() { return fd < 0 && connected ? socket.writableLength : outboxBytes; }

  // Writes what the socket takes now; the rest waits for the next send or tick.
  function flush() {
    if (fd < 0) return;
    while (outbox.length > 0) {
      const b = outbox[0];
      let n;
      try { n = fs.writeSync(fd, b, 0, b.length); } catch (e) {
        if (e && e.code === 'EAGAIN') return;
        disable(false);
        return;
      }
      outboxBytes -= n;
      if (n < b.length) { outbox[0] = b.subarray(n); return; }
      outbox.shift();
    }
  }

  // Everything starts now rather than on connect, so that warnings raised while the app's
  // modules load are not missed; a failed connect tears it all down again.
  send({
    type: 'hello', pid, ppid: process.ppid, node: process.version, argv: process.argv.slice(),
    interval: INTERVAL, heapSizeLimit: v8.getHeapStatistics().heap_size_limit, gcProfiler: useProfiler,
  }, true);
  process.on('warning', onWarning);
  startGcTracking();
  ticker = setInterval(guard(tick), RESOLUTION_MS);
  ticker.unref();
  timer = setInterval(guard(sample), INTERVAL);
  timer.unref();

  function startGcTracking() {
    if (GC_MODE === 'off') return;
    if (useProfiler) {
      profiler = new v8.GCProfiler();
      profiler.start();
    } else if (typeof perf.PerformanceObserver === 'function') {
      const c = perf.constants || {};
      const kinds = {};
      kinds[c.NODE_PERFORMANCE_GC_MINOR] = 'minor';
      kinds[c.NODE_PERFORMANCE_GC_MAJOR] = 'major';
      kinds[c.NODE_PERFORMANCE_GC_INCREMENTAL] = 'incremental';
      kinds[c.NODE_PERFORMANCE_GC_WEAKCB] = 'weakcb';
      onGcEntries = (entries) => {
        for (const e of entries) {
          if (forced.some((w) => e.startTime >= w[0] && e.startTime <= w[1])) continue;
          const k = e.detail && e.detail.kind !== undefined ? e.detail.kind : e.kind;
          const ev = { kind: kinds[k] || 'major', ms: e.duration };
          if (ev.kind === 'major') ev.heapAfter = oldGenerationUsed();
          pushGc(ev);
        }
      };
      observer = new perf.PerformanceObserver(guard((list) => onGcEntries(list.getEntries())));
      setGcObserving(true);
    }
  }

  function setGcObserving(on) {
    if (!observer || on === gcObserving) return;
    if (on) observer.observe({ entryTypes: ['gc'] });
    else observer.disconnect(); // entries not yet delivered belong to a sent interval
    gcObserving = on;
  }

  // Called by sample() after it has sent the interval's events (`count` of them).
  function planGcObserving(observed, count) {
    if (!observer) return;
    if (observed) {
      if (count >= GC_BUSY) gcBusy = true;
      else if (count < GC_BUSY / 2) gcBusy = false;
    }
    let next = true;
    if (gcBusy) {
      gcTurn = (gcTurn + 1) % GC_EVERY;
      next = gcTurn === 0;
    }
    setGcObserving(next);
    gcWhole = next;
  }

  // Entries arrive in a setImmediate soon after the GC. Right after a full GC the young
  // generation is empty, so the used size of all other spaces now is close to the heap
  // after it (within ~1 % of GCProfiler's afterGC.usedHeapSize in a test).
  function oldGenerationUsed() {
    let used = 0;
    for (const s of v8.getHeapSpaceStatistics()) if (!s.space_name.startsWith('new_')) used += s.space_used_size;
    return used;
  }

  function pushGc(ev) {
    if (gcEvents.length < MAX_GC_EVENTS) gcEvents.push(ev); else gcDropped++;
  }

  function gcKind(type) {
    const t = String(type);
    if (/scavenge|minor/i.test(t)) return 'minor'; // Scavenge, MinorMarkSweep/MinorMarkCompact
    if (/incremental/i.test(t)) return 'incremental';
    if (/weak/i.test(t)) return 'weakcb';
    return 'major'; // MarkSweepCompact and anything unknown
  }

  // The next profiler starts before the previous one stops, so a GC triggered while
  // parsing the previous profiler's JSON is not lost.
  function collectProfiler() {
    const prev = profiler;
    profiler = new v8.GCProfiler();
    profiler.start();
    const data = prev.stop();
    const stats = (data && data.statistics) || [];
    for (const s of stats) {
      const ev = { kind: gcKind(s.gcType), ms: (s.cost || 0) / 1000 };
      const after = s.afterGC && s.afterGC.heapStatistics;
      if (after && typeof after.usedHeapSize === 'number') ev.heapAfter = after.usedHeapSize;
      pushGc(ev);
    }
  }

  // Event-loop delay: how late a 10 ms timer fires, minus the 10 ms. That is what
  // monitorEventLoopDelay({resolution: 10}) measures too, but its reset() forgets the
  // tick in progress, so a block ending just before a sample was often lost entirely.
  function tick() {
    if (outboxBytes > 0) flush();
    const now = performance.now();
    if (delays.length < MAX_DELAYS) delays.push(Math.max(0, now - lastTick - RESOLUTION_MS));
    lastTick = now;
  }

  function delay() {
    if (performance.now() - lastTick > 2 * RESOLUTION_MS) tick(); // ticker overdue: count it now
    const d = delays;
    delays = [];
    if (d.length === 0) return { p50: 0, p99: 0, max: 0 };
    d.sort((x, y) => x - y);
    const at = (q) => Math.round(d[Math.max(0, Math.ceil(q * d.length) - 1)] * 1000) / 1000;
    return { p50: at(0.5), p99: at(0.99), max: at(1) };
  }

  function handles() {
    const counts = {};
    for (const t of process.getActiveResourcesInfo()) counts[t] = (counts[t] || 0) + 1;
    // Without a descriptor, Node keeps at most one write of ours in flight; it shows up as
    // a WriteWrap request.
    if (fd < 0 && socket.writableLength > 0 && counts.WriteWrap > 0 && --counts.WriteWrap === 0) delete counts.WriteWrap;
    return counts;
  }

  function sample() {
    if (!active) return;
    if (profiler) collectProfiler();
    if (observer && gcObserving) guard(() => onGcEntries(observer.takeRecords()))();
    const observed = gcWhole;
    const gcCount = gcEvents.length + gcDropped;
    const msg = { type: 'sample', pid, delay: delay(), elu: 0, memory: null, gc: gcEvents };
    if (!observed) msg.gcObserved = false;
    if (hasElu) {
      const now = performance.eventLoopUtilization();
      msg.elu = performance.eventLoopUtilization(now, lastElu).utilization || 0;
      lastElu = now;
    }
    const m = process.memoryUsage();
    msg.memory = { rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers || 0 };
    if (gcDropped) msg.gcDropped = gcDropped;
    if (typeof process.getActiveResourcesInfo === 'function') msg.handles = handles();
    gcEvents = [];
    gcDropped = 0;
    send(msg);
    planGcObserving(observed, gcCount);
  }

  function snapshot(msg) {
    let heapUsed = process.memoryUsage().heapUsed;
    // The limit is for the live heap: garbage not yet collected does not count (a table
    // whose arrays are replaced showed 67 MB used and a 15 MB live heap). A snapshot starts
    // with a full GC anyway, so collecting first costs nothing it would not.
    if (typeof msg.maxHeap === 'number' && heapUsed > msg.maxHeap) {
      collect();
      heapUsed = process.memoryUsage().heapUsed;
    }
    const reply = { type: 'snapshot', pid, id: msg.id, ms: 0, heapUsed };
    if (typeof msg.maxHeap === 'number' && heapUsed > msg.maxHeap) {
      reply.skipped = 'the heap (' + heapUsed + ' bytes used) is over the snapshot limit (' + msg.maxHeap + ')';
    } else if (typeof v8.writeHeapSnapshot !== 'function') {
      reply.skipped = 'this Node has no v8.writeHeapSnapshot';
    } else {
      const started = performance.now();
      try { v8.writeHeapSnapshot(String(msg.path)); } catch (e) { reply.error = String((e && e.message) || e); }
      reply.ms = performance.now() - started;
    }
    send(reply, true);
  }

  // The sampling heap profiler: cheap enough to run across the load. Its profile only holds
  // objects still alive when it is read, which is what "allocation sites of retained memory"
  // needs. It never sees ArrayBuffer backing stores (Buffer memory), which are not on the heap.
  // One sample per 256 KiB allocated on average: at 16 KiB the stack captures cost a busy
  // hello-world server ~10 % of its throughput; at 256 KiB the cost is within noise, and a
  // leak of megabytes still gets dozens of samples.
  const SAMPLING_INTERVAL = 256 * 1024;
  let inspectorSession = null;
  function sampling(msg) {
    if (msg.action === 'start') {
      if (inspectorSession) return;
      const inspector = require('inspector');
      inspectorSession = new inspector.Session();
      inspectorSession.connect();
      const options = { samplingInterval: SAMPLING_INTERVAL };
      if (msg.garbage) {
        options.includeObjectsCollectedByMajorGC = true;
        options.includeObjectsCollectedByMinorGC = true;
      }
      inspectorSession.post('HeapProfiler.startSampling', options);
      return;
    }
    const reply = { type: 'allocations', pid, id: msg.id, sites: [] };
    if (!inspectorSession) {
      reply.error = 'the sampling heap profiler was not running';
      send(reply, true);
      return;
    }
    const session = inspectorSession;
    inspectorSession = null;
    session.post('HeapProfiler.getSamplingProfile', (err, result) => {
      try {
        if (err) reply.error = String(err.message || err);
        else reply.sites = allocationSites(result && result.profile);
        session.post('HeapProfiler.stopSampling', () => { try { session.disconnect(); } catch (_) { /* ignore */ } });
      } catch (e) { reply.error = String((e && e.message) || e); }
      send(reply, true);
    });
  }

  // The CPU profiler, for the CPU trace: where the time goes. Its samples are written to a
  // file in harness's private directory, since a profile can be megabytes.
  let cpuSession = null;
  function cpuProfile(msg) {
    if (msg.action === 'start') {
      if (cpuSession) return;
      const inspector = require('inspector');
      cpuSession = new inspector.Session();
      cpuSession.connect();
      cpuSession.post('Profiler.enable');
      const interval = Number(msg.interval) > 0 ? Number(msg.interval) : 1000;
      cpuSession.post('Profiler.setSamplingInterval', { interval });
      cpuSession.post('Profiler.start');
      return;
    }
    const reply = { type: 'profile', pid, id: msg.id, samples: 0 };
    if (!cpuSession) {
      reply.error = 'the CPU profiler was not running';
      send(reply, true);
      return;
    }
    const session = cpuSession;
    cpuSession = null;
    session.post('Profiler.stop', (err, result) => {
      try {
        if (err) reply.error = String(err.message || err);
        else {
          const profile = result && result.profile;
          fs.writeFileSync(String(msg.path), JSON.stringify(profile), { mode: 0o600 });
          reply.samples = profile && profile.samples ? profile.samples.length : 0;
        }
        session.post('Profiler.disable', () => { try { session.disconnect(); } catch (_) { /* ignore */ } });
      } catch (e) { reply.error = String((e && e.message) || e); }
      send(reply, true);
    });
  }

  // The I/O trace: which call each traced request waited on. Its module is loaded only when
  // a trace starts, so a run that traces nothing pays nothing for it.
  let ioTraceHandle = null;
  function ioTrace(msg) {
    if (msg.action === 'start') {
      if (ioTraceHandle) return;
      const file = require('path').join(__dirname, 'iotrace.cjs');
      ioTraceHandle = require(file).start({ header: String(msg.header || 'x-harness-trace'), selfFile: file });
      return;
    }
    const reply = { type: 'iotrace', pid, id: msg.id };
    if (!ioTraceHandle) reply.error = 'the I/O trace was not running';
    else {
      const handle = ioTraceHandle;
      ioTraceHandle = null;
      reply.report = handle.stop();
    }
    send(reply, true);
  }

  // Bytes by allocating site, biggest first. A site is the innermost frame in the app's own
  // code (not node: internals or V8 builtins), so Buffer.toString inside createSession counts
  // for createSession; allocations with no app frame keep their own frame.
  function allocationSites(profile) {
    const sites = new Map();
    const isApp = (f) => f.url !== '' && !f.url.startsWith('node:') && !f.url.startsWith('internal/');
    const stack = profile && profile.head ? [[profile.head, null]] : [];
    let visited = 0;
    while (stack.length > 0 && visited < 1000000) {
      const [node, appFrame] = stack.pop();
      visited++;
      const f = node.callFrame || {};
      const own = isApp(f) ? f : appFrame;
      if (node.children) for (const child of node.children) stack.push([child, own]);
      if (!node.selfSize || f.functionName === '(root)') continue;
      const site = own || f;
      if (site.url === __filename) continue; // the probe's own allocations
      const key = site.functionName + '\u0000' + site.url + '\u0000' + site.lineNumber + '\u0000' + site.columnNumber;
      const entry = sites.get(key) || { function: site.functionName || '(anonymous)', url: site.url || '', line: site.lineNumber + 1, column: site.columnNumber + 1, bytes: 0 };
      entry.bytes += node.selfSize;
      sites.set(key, entry);
    }
    return Array.from(sites.values()).sort((a, b) => b.bytes - a.bytes).slice(0, 20);
  }

  // First stack frame outside Node's internals and this file, as "file:line:col".
  function location(stack) {
    const lines = String(stack || '').split('\n');
    for (let i = 1; i < lines.length; i++) {
      let s = lines[i].trim();
      if (!s.startsWith('at ')) continue;
      s = s.slice(3);
      if (s.endsWith(')')) s = s.slice(s.indexOf('(') + 1, -1);
      const m = /^(.+):(\d+):(\d+)$/.exec(s);
      if (!m) continue;
      let file = m[1];
      if (file.startsWith('file://')) {
        try { file = require('url').fileURLToPath(file); } catch (_) { /* keep the URL */ }
      }
      if (file.startsWith('node:') || file.startsWith('internal/') || file === __filename) continue;
      return file + ':' + m[2] + ':' + m[3];
    }
    return null;
  }

  function onWarning(w) {
    try {
      if (!w) return;
      const stack = w.stack === undefined ? null : String(w.stack);
      const msg = { type: 'warning', pid, name: String(w.name), message: String(w.message), stack, location: location(stack) };
      if (w.code !== undefined) msg.code = String(w.code);
      if (w.name === 'MaxListenersExceededWarning') {
        msg.event = String(w.type);
        msg.count = w.count;
        msg.emitter = w.emitter && w.emitter.constructor ? w.emitter.constructor.name : null;
      }
      send(msg);
    } catch (_) { /* ignore */ }
  }

  function onData(chunk) {
    inbox += chunk;
    let nl;
    while ((nl = inbox.indexOf('\n')) >= 0) {
      const line = inbox.slice(0, nl);
      inbox = inbox.slice(nl + 1);
      let msg;
      try { msg = JSON.parse(line); } catch (_) { continue; }
      if (!msg || typeof msg !== 'object') continue;
      if (msg.type === 'gc') guard(forceGc)(msg.id);
      else if (msg.type === 'snapshot') guard(snapshot)(msg);
      else if (msg.type === 'sampling') guard(sampling)(msg);
      else if (msg.type === 'profile') guard(cpuProfile)(msg);
      else if (msg.type === 'iotrace') guard(ioTrace)(msg);
      else if (msg.type === 'stop') { disable(true); return; }
    }
    if (inbox.length > MAX_BUFFERED) inbox = ''; // junk without newlines
  }

  // Two full GCs (the second lets weak callbacks and finalizers settle), not reported as gc
  // events: the observer skips entries that start inside this window; the profiler's events
  // from it are discarded. Returns how long they took, ms.
  function collect() {
    if (!gcFn) {
      if (typeof global.gc === 'function') gcFn = global.gc;
      else {
        v8.setFlagsFromString('--expose-gc');
        gcFn = require('vm').runInNewContext('gc');
        v8.setFlagsFromString('--no-expose-gc'); // the flag only matters for new contexts
      }
    }
    if (profiler) collectProfiler();
    const t0 = performance.now();
    gcFn();
    gcFn();
    const t1 = performance.now();
    forced = forced.slice(-3).concat([[t0, t1]]);
    if (profiler) { profiler.stop(); profiler = new v8.GCProfiler(); profiler.start(); }
    return t1 - t0;
  }

  function forceGc(id) {
    const ms = collect();
    const m = process.memoryUsage();
    send({ type: 'floor', pid, id, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external,
      arrayBuffers: m.arrayBuffers || 0, rss: m.rss, ms }, true);
  }

  // graceful (on "stop"): flush what is queued, then close; otherwise drop it.
  // Once harness's socket has broken or closed (harness has gone, or is going: it leaves
  // its inspector session first): closes the inspector harness opened, a moment later, if
  // harness did not (inspector.close() waits for every session, blocking the loop
  // meanwhile; harness's has gone by then).
  function closeInspector() {
    if (!CLOSE_INSPECTOR) return;
    try {
      const inspector = require('inspector');
      const close = setTimeout(() => { try { if (inspector.url()) inspector.close(); } catch (_) { /* ignore */ } }, 200);
      close.unref();
    } catch (_) { /* ignore */ }
  }

  function disable(graceful) {
    try {
      if (!active) return;
      active = false;
      if (!graceful && connected) closeInspector();
      delete process[KEY];
      clearInterval(timer);
      clearInterval(ticker);
      if (profiler) profiler.stop();
      if (observer) observer.disconnect();
      if (ioTraceHandle) { ioTraceHandle.stop(); ioTraceHandle = null; }
      process.removeListener('warning', onWarning);
      gcEvents = [];
      delays = [];
      if (graceful) { flush(); socket.end(); } else socket.destroy();
      outbox = [];
      outboxBytes = 0;
    } catch (_) { /* ignore */ }
  }
}
