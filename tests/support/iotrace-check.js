#!/usr/bin/env node
// Checks the probe's I/O trace (src/target/probe/iotrace.cjs) against the fixture apps in
// scenarios/apps/io/, with plain Node and no harness.
//
//   node tests/support/iotrace-check.js [options] [FIXTURE...]   the fixtures (default: all)
//   node tests/support/iotrace-check.js --bad-cases               hangs, chains, cluster, ...
//   node tests/support/iotrace-check.js --cost                    the trace window's cost
//
//   --node BIN       the Node to run the apps with (default: this one)
//   -c N             connections (default: each fixture's own, 20 or 50)
//   -d SECONDS       traced load (default 3)
//   --json           print the reports too
//   --runs N         --cost: runs of each variant (default 5)
//
// For each fixture it starts `node -r THIS_FILE APP` in a process group of its own (this file
// is then a tiny preload: SIGUSR2 starts a trace in every process of the group, the next
// SIGUSR2 stops it and writes each process's report to $IOTRACE_CHECK_REPORT.PID.json), warms
// the app up without the header, sends a bounded keep-alive load with the header
// (x-harness-trace: KIND), stops the trace, and kills the group. Every request of the window
// is traced. The truth is what the app itself measured around its dominant operation (its
// Server-Timing header), per request, over the request's mean time in the process (the
// report's latencyMs.mean); the top operation must have the expected name and a share within
// 10 points of it.
// The apps need `npm install` in scenarios/apps. pg-noindex needs PostgreSQL: a private
// server is started with tests/support/postgres.sh (skipped, with its reason, where
// PostgreSQL is not installed). --cost uses wrk where installed.
// Exit status: 0 when every check passed, 1 otherwise.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const net = require('node:net');
const { spawn, execFileSync } = require('node:child_process');

// ---------------------------------------------------------------- the preload

function preload() {
  const base = process.env.IOTRACE_CHECK_REPORT;
  if (!base) return;
  const iotrace = require(path.join(__dirname, '..', '..', 'src', 'target', 'probe', 'iotrace.cjs'));
  const options = JSON.parse(process.env.IOTRACE_CHECK_OPTIONS || '{}');
  let handle = null;
  process.on('SIGUSR2', () => {
    if (handle === null) {
      const t = performance.now();
      handle = iotrace.start(options);
      fs.writeFileSync(`${base}.${process.pid}.started`, String(performance.now() - t));
      return;
    }
    const t = performance.now();
    const report = handle.stop();
    report.stopCallMs = performance.now() - t;
    handle = null;
    fs.writeFileSync(`${base}.${process.pid}.json`, JSON.stringify(report));
  });
}

// ---------------------------------------------------------------- fixtures

const APPS = path.join(__dirname, '..', '..', 'scenarios', 'apps', 'io');

const FIXTURES = {
  'fetch-downstream': {
    file: 'fetch-downstream.js', kind: 'GET /items?category={{counter}}', url: (i) => `/items?category=c${i % 50}`,
    connections: 20, timing: 'inventory', expect: ['getItems', 'fetch GET 127.0.0.1:', '/items?…'],
  },
  'shared-helper': {
    file: 'shared-helper.js', kind: 'GET /home?user={{counter}}', url: (i) => `/home?user=${i}`,
    connections: 20, timing: 'recommendations', expect: ['loadRecommendations (shared-helper.js:', 'query (shared-helper.js:', 'setTimeout 60 ms'],
  },
  'starved-pool': {
    file: 'starved-pool.js', kind: 'GET /orders?user={{counter}}', url: (i) => `/orders?user=${i}`,
    connections: 50, timing: 'pool', expect: ['withConnection (starved-pool.js:', 'promise from Pool.acquire (generic-pool)'],
  },
  'pg-noindex': {
    file: 'pg-noindex.js', kind: 'GET /items/{{code}}', url: (i) => `/items/C${1 + ((i * 7919) % 200000)}`,
    connections: 10, timing: 'db', expect: ['findItem (pg-noindex.js:', 'pg query SELECT * FROM items WHERE code = $1'], postgres: true,
  },
  'parallel-timers': {
    file: 'parallel-timers.js', kind: 'GET /', url: () => '/',
    connections: 20, timing: 'widgets', expect: ['loadWidgets (parallel-timers.js:', '5 × setTimeout 30 ms'],
  },
  'parallel-timers.mjs': {
    file: 'parallel-timers.mjs', kind: 'GET /', url: () => '/',
    connections: 20, timing: 'widgets', expect: ['loadWidgets (parallel-timers.mjs:', '5 × setTimeout 30 ms'],
  },
  'nine-timers': {
    file: 'nine-timers.js', kind: 'GET /order/{{counter}}', url: (i) => `/order/${i}`,
    connections: 20, timing: 'pipeline', expect: ['runPipeline (nine-timers.js:', 'setTimeout 10 ms'], perRequest: 9,
  },
};

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.cost) return cost(args);
  if (args.badCases) return badCases(args);
  const names = args.fixtures.length ? args.fixtures : Object.keys(FIXTURES);
  let ok = true;
  let pg = null;
  try {
    for (const name of names) {
      const fx = FIXTURES[name];
      if (!fx) throw new Error(`no fixture ${name} (${Object.keys(FIXTURES).join(', ')})`);
      let env = {};
      if (fx.postgres) {
        pg = pg || startPostgres();
        if (pg.error) { console.log(`${name}: skipped: ${pg.error}`); continue; }
        env = pg.env;
      }
      ok = (await checkFixture(name, fx, args, env)) && ok;
    }
  } finally {
    if (pg && !pg.error) stopPostgres(pg);
  }
  return ok;
}

function parseArgs(argv) {
  const a = { node: process.execPath, connections: 0, seconds: 3, json: false, runs: 5, fixtures: [], cost: false, badCases: false };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i];
    if (v === '--node') a.node = argv[++i];
    else if (v === '-c') a.connections = Number(argv[++i]);
    else if (v === '-d') a.seconds = Number(argv[++i]);
    else if (v === '--runs') a.runs = Number(argv[++i]);
    else if (v === '--json') a.json = true;
    else if (v === '--cost') a.cost = true;
    else if (v === '--bad-cases') a.badCases = true;
    else a.fixtures.push(v);
  }
  return a;
}

async function checkFixture(name, fx, args, env) {
  const connections = args.connections || fx.connections;
  await warnIfBusy();
  const app = await startApp(args.node, path.join(APPS, fx.file), env);
  let result;
  try {
    await load({ port: app.port, connections, seconds: 1, url: fx.url }); // warm-up, untraced
    await app.startTrace();
    result = await load({ port: app.port, connections, seconds: args.seconds, url: fx.url, kind: fx.kind, timing: fx.timing });
    app.reports = await app.stopTrace();
  } finally {
    await app.kill();
  }
  const report = app.reports[app.pid];
  if (args.json) console.log(JSON.stringify(report, null, 2));
  return judge(name, fx, args, report, result);
}

function judge(name, fx, args, report, load) {
  const kind = report && report.kinds.find((k) => k.kind === fx.kind);
  const top = kind && kind.operations[0];
  // What the app measured around the operation, over the request's time in the process.
  const truth = kind && load.requests ? load.timingMs / load.requests / kind.latencyMs.mean : 0;
  const problems = [];
  if (!top) problems.push('no operation reported');
  else {
    for (const part of fx.expect) if (!top.name.includes(part)) problems.push(`name lacks "${part}"`);
    if (Math.abs(top.share - truth) > 0.10) problems.push(`share ${pct(top.share)} is not within 10 points of ${pct(truth)}`);
    if (fx.perRequest && Math.abs(top.perRequest - fx.perRequest) > 0.5) problems.push(`perRequest ${top.perRequest}, not ${fx.perRequest}`);
  }
  const ver = execFileSync(args.node, ['-v']).toString().trim();
  const status = problems.length ? 'FAIL' : 'ok';
  console.log(`${status.padEnd(4)} ${name.padEnd(20)} ${ver.padEnd(9)} ${kind ? kind.requests : 0} traced, p50 ${kind ? kind.latencyMs.p50 : '-'} ms, ` +
    `running ${kind ? pct(kind.running) : '-'}, queued ${kind ? pct(kind.queued) : '-'}, stop ${report ? report.stopMs : '-'} ms; ` +
    `client: ${load.requests} requests, mean ${(load.latencyMs / load.requests).toFixed(2)} ms, app-measured ${(load.timingMs / load.requests).toFixed(2)} ms`);
  console.log(`     top: ${top ? top.name : '-'}  share ${top ? pct(top.share) : '-'} (truth ${pct(truth)})` +
    `${top ? `, ${top.count} requests, ${top.chargedMs.p50}/${top.chargedMs.p90} ms p50/p90, ${top.perRequest} per request` : ''}`);
  if (kind) for (const op of kind.operations.slice(1, 3)) console.log(`     then: ${op.name}  ${pct(op.share)}`);
  for (const p of problems) console.log(`     problem: ${p}`);
  for (const n of (report ? report.notes.concat(report.unseen, kind ? kind.notes : []) : [])) console.log(`     note: ${n}`);
  return problems.length === 0;
}

// Another process taking a core delays every timer; the trace rightly calls that lateness
// queued, while the app's own measure counts it as the operation's time. Measured while
// nothing of ours runs, from /proc/stat (Linux).
async function warnIfBusy() {
  const busy = await machineBusy(300);
  const cores = os.cpus().length;
  if (busy > 0.3) console.log(`     warning: other processes keep ${(busy * cores).toFixed(1)} of ${cores} cores busy: timers fire late, which the trace reports as queued, so shares may fall short of the truth`);
}

async function machineBusy(ms) {
  const read = () => {
    try {
      const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
      return { idle: f[3] + (f[4] || 0), total: f.reduce((a, b) => a + b, 0) };
    } catch (_) { return null; }
  };
  const a = read();
  await sleep(ms);
  const b = read();
  return a && b && b.total > a.total ? 1 - (b.idle - a.idle) / (b.total - a.total) : 0;
}

function pct(x) {
  return `${(100 * x).toFixed(1)} %`;
}

// ---------------------------------------------------------------- the app under test

async function startApp(node, file, env, extraArgs) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iotrace-check-'));
  const base = path.join(dir, 'report');
  const port = await freePort();
  const child = spawn(node, ['-r', __filename].concat(extraArgs || [], [file]), {
    // Every request of the window traced, so that the truth and the trace see the same ones.
    env: { IOTRACE_CHECK_OPTIONS: JSON.stringify({ maxRequestsPerKind: 100000 }), ...process.env, ...env, PORT: String(port), IOTRACE_CHECK_REPORT: base },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // a process group of its own: signals reach the app's children too
  });
  const output = [];
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  child.stdout.on('data', (d) => output.push(String(d)));
  child.stderr.on('data', (d) => output.push(String(d)));
  await Promise.race([
    waitFor(() => /listening/.test(output.join('')), 60000, `${path.basename(file)} to listen`),
    exited.then((e) => { throw new Error(`${path.basename(file)} exited (${e.code ?? e.signal}): ${output.join('').slice(-2000)}`); }),
  ]);
  const app = { pid: child.pid, port, output, reports: {} };
  app.startTrace = async () => {
    process.kill(-child.pid, 'SIGUSR2');
    await waitFor(() => fs.existsSync(`${base}.${child.pid}.started`), 10000, 'the trace to start');
    await sleep(100); // the app's other processes
  };
  app.stopTrace = async () => {
    const started = new Set(fs.readdirSync(dir).filter((f) => f.endsWith('.started')).map((f) => f.split('.')[1]));
    process.kill(-child.pid, 'SIGUSR2');
    await waitFor(() => Array.from(started).every((pid) => fs.existsSync(`${base}.${pid}.json`)), 10000, 'the reports');
    const reports = {};
    for (const pid of started) reports[pid] = JSON.parse(fs.readFileSync(`${base}.${pid}.json`, 'utf8'));
    return reports;
  };
  app.kill = async () => {
    for (const signal of ['SIGTERM', 'SIGKILL']) {
      try { process.kill(-child.pid, signal); } catch (_) { /* gone */ }
      const done = await Promise.race([exited.then(() => true), sleep(3000).then(() => false)]);
      if (done && !groupAlive(child.pid)) break;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  return app;
}

function groupAlive(pgid) {
  try { process.kill(-pgid, 0); return true; } catch (_) { return false; }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function waitFor(cond, ms, what) {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------- load

// `connections` keep-alive clients, each sending requests one after another until `seconds`
// have passed or maxRequests were sent. With `kind`, each request carries the trace header.
async function load({ port, connections, seconds, url, kind, timing, maxRequests = 100000, timeoutMs = 10000 }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const deadline = performance.now() + seconds * 1000;
  const out = { requests: 0, errors: 0, latencyMs: 0, timingMs: 0, latencies: [], statuses: {} };
  let counter = 0;
  async function client() {
    while (performance.now() < deadline && counter < maxRequests) {
      const i = counter++;
      const t = performance.now();
      try {
        const r = await get(agent, port, url(i), kind, timeoutMs);
        const ms = performance.now() - t;
        out.requests++;
        out.latencyMs += ms;
        out.latencies.push(ms);
        out.statuses[r.status] = (out.statuses[r.status] || 0) + 1;
        const m = timing && new RegExp(`${timing};dur=([\\d.]+)`).exec(r.timing || '');
        if (m) out.timingMs += Number(m[1]);
      } catch (_) { out.errors++; }
    }
  }
  await Promise.all(Array.from({ length: connections }, client));
  agent.destroy();
  return out;
}

function get(agent, port, urlPath, kind, timeoutMs) {
  return new Promise((resolve, reject) => {
    const headers = kind ? { 'x-harness-trace': kind } : {};
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, timing: res.headers['server-timing'] }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

// ---------------------------------------------------------------- PostgreSQL

function startPostgres() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iotrace-pg-'));
  const script = path.join(__dirname, 'postgres.sh');
  try {
    const out = execFileSync('sh', [script, 'start', dir], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
    const env = {};
    for (const line of out.split('\n')) { const m = /^(PG\w+)=(.*)$/.exec(line); if (m) env[m[1]] = m[2]; }
    return { dir, env, script };
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    return { error: String(e.stderr || e.message).trim() };
  }
}

function stopPostgres(pg) {
  try { execFileSync('sh', [pg.script, 'stop', pg.dir], { stdio: 'ignore' }); } catch (_) { /* reported by the script */ }
  fs.rmSync(pg.dir, { recursive: true, force: true });
}

// ---------------------------------------------------------------- cost

// Throughput of hello.js with no trace, with a trace whose requests all carry the header,
// and with a trace running but no header; and the CPU per request of an I/O-bound fixture.
async function cost(args) {
  const hello = path.join(__dirname, '..', '..', 'scenarios', 'apps', 'hello.js');
  const variants = [['no trace', false, false], ['trace, all traced', true, true], ['trace, none traced', true, false]];
  console.log(`cost on ${execFileSync(args.node, ['-v']).toString().trim()}, ${args.runs} runs of ${args.seconds} s each, medians`);
  for (const [file, connections, kind, url] of [[hello, 20, 'GET /', () => '/'], [path.join(APPS, 'shared-helper.js'), 20, 'GET /home', (i) => `/home?user=${i}`]]) {
    const rows = variants.map(() => ({ rps: [], cpu: [] }));
    for (let run = 0; run < args.runs; run++) {
      for (let v = 0; v < variants.length; v++) {
        const [, traced, header] = variants[v];
        const app = await startApp(args.node, file, {});
        try {
          await load({ port: app.port, connections, seconds: 1, url });
          if (traced) await app.startTrace();
          const cpu0 = cpuMs(app.pid);
          const r = await measure(app.port, connections, args.seconds, header ? kind : null, url);
          const cpu = cpuMs(app.pid) - cpu0;
          rows[v].rps.push(r.rps);
          rows[v].cpu.push(cpu / Math.max(1, r.requests));
          if (traced) app.reports = await app.stopTrace();
        } finally {
          await app.kill();
        }
      }
    }
    console.log(path.basename(file));
    variants.forEach(([label], v) => console.log(`  ${label.padEnd(20)} ${median(rows[v].rps).toFixed(0).padStart(7)} req/s   ${(1000 * median(rows[v].cpu)).toFixed(1).padStart(6)} µs CPU/request   (req/s runs: ${rows[v].rps.map((x) => x.toFixed(0)).join(' ')})`));
  }
  return true;
}

// wrk where installed (a C client leaves the target more of this machine), else this script.
async function measure(port, connections, seconds, kind, url) {
  if (hasWrk()) {
    const argv = ['-t', '1', '-c', String(connections), '-d', `${seconds}s`];
    if (kind) argv.push('-H', `x-harness-trace: ${kind}`);
    argv.push(`http://127.0.0.1:${port}${url(1)}`);
    const out = execFileSync('wrk', argv, { timeout: (seconds + 10) * 1000 }).toString();
    const rps = Number((/Requests\/sec:\s+([\d.]+)/.exec(out) || [])[1]);
    const requests = Number((/(\d+) requests in/.exec(out) || [])[1]);
    return { rps, requests };
  }
  const r = await load({ port, connections, seconds, url, kind });
  return { rps: r.requests / seconds, requests: r.requests };
}

let wrk = null;
function hasWrk() {
  if (wrk === null) { try { execFileSync('wrk', ['-v'], { stdio: 'ignore' }); wrk = true; } catch (e) { wrk = e.status === 1; } }
  return wrk;
}

// The target's CPU time so far (user + system), from /proc: Linux only.
function cpuMs(pid) {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks of 10 ms
  } catch (_) { return 0; }
}

function median(xs) {
  const s = xs.slice().sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : 0;
}

// ---------------------------------------------------------------- bad cases

const BAD_APP = String.raw`
// Bad cases for the I/O trace, one route each. Written by tests/support/iotrace-check.js.
'use strict';
const http = require('node:http');
const cluster = require('node:cluster');

// As source-map-support does: every stack goes through the app's own formatter.
Error.prepareStackTrace = (error, frames) => 'custom: ' + error.message + ' (' + frames.length + ' frames)';

function sleep(ms) { return new Promise((resolve) => setTimeout(resolve, ms)); }

async function longChain() {
  let p = Promise.resolve(0);
  for (let i = 0; i < 10000; i++) p = p.then((n) => n + 1);
  const n = await p;
  await sleep(5);
  return n;
}

function waitForever() { return new Promise(() => {}); } // a lost resolve

async function manyWaits() {
  for (let i = 0; i < 300; i++) await sleep(0);
}

async function handle(req, res) {
  if (req.url === '/hang') return; // never answers
  if (req.url === '/stuck') { await waitForever(); return res.end('never'); }
  if (req.url === '/nothing') return res.end('nothing');
  if (req.url === '/chain') return res.end(String(await longChain()));
  if (req.url === '/many') { await manyWaits(); return res.end('many'); }
  if (req.url === '/stack') return res.end(new Error('mine').stack);
  res.statusCode = 404;
  res.end();
}

if (process.env.BAD_CLUSTER && cluster.isPrimary) {
  for (let i = 0; i < 2; i++) cluster.fork();
  let listening = 0;
  cluster.on('listening', () => { if (++listening === 2) console.log('bad-cases cluster listening'); });
} else {
  http.createServer(handle).listen(Number(process.env.PORT), '127.0.0.1', () => {
    if (!process.env.BAD_CLUSTER) console.log('bad-cases listening');
  });
}
`;

async function badCases(args) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iotrace-bad-'));
  const file = path.join(dir, 'bad-cases.js');
  fs.writeFileSync(file, BAD_APP);
  let ok = true;
  try {
    ok = (await badSingle(args, file)) && ok;
    ok = (await badCluster(args, file)) && ok;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return ok;
}

async function badSingle(args, file) {
  const app = await startApp(args.node, file, {});
  const problems = [];
  let report;
  let stack = '';
  try {
    await app.startTrace();
    const routes = ['/hang', '/stuck', '/nothing', '/chain', '/many'];
    const loads = routes.map((route) => load({ port: app.port, connections: /hang|stuck/.test(route) ? 3 : 4, seconds: 2, url: () => route, kind: `GET ${route}`, timeoutMs: 1500 }));
    stack = await new Promise((resolve) => http.get({ host: '127.0.0.1', port: app.port, path: '/stack', headers: { 'x-harness-trace': 'GET /stack' } }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve(body));
    }).on('error', () => resolve('')));
    const results = await Promise.all(loads);
    if (results[2].requests === 0) problems.push('/nothing got no answers');
    report = (await app.stopTrace())[app.pid];
    const alive = await get(new http.Agent(), app.port, '/nothing', null, 2000).then(() => true, () => false);
    if (!alive) problems.push('the app stopped answering after the trace');
  } finally {
    await app.kill();
  }
  if (!stack.startsWith('custom: mine')) problems.push(`the app's Error.prepareStackTrace was not used during the trace: ${stack.slice(0, 80)}`);
  const byKind = Object.fromEntries(report.kinds.map((k) => [k.kind, k]));
  const expectNote = (kind, re) => { if (!byKind[kind] || !byKind[kind].notes.some((n) => re.test(n))) problems.push(`${kind}: no note matching ${re}`); };
  expectNote('GET /hang', /still open at stop/);
  expectNote('GET /stuck', /still open at stop.*waiting on .*waitForever \(bad-cases\.js:\d+\) → promise/);
  expectNote('GET /nothing', /awaited nothing/);
  expectNote('GET /many', /more than \d+ waits/);
  if (!byKind['GET /chain'] || byKind['GET /chain'].requests === 0) problems.push('GET /chain: no finished requests');
  if (!report.notes.some((n) => /prepareStackTrace/.test(n))) problems.push('no note about the replaced Error.prepareStackTrace');
  if (report.stopMs > 20) problems.push(`stop() took ${report.stopMs} ms`);
  if (args.json) console.log(JSON.stringify(report, null, 2));
  printBad('bad cases', args, report, problems);
  return problems.length === 0;
}

async function badCluster(args, file) {
  const app = await startApp(args.node, file, { BAD_CLUSTER: '1' });
  const problems = [];
  let reports;
  try {
    await app.startTrace();
    await load({ port: app.port, connections: 8, seconds: 1, url: () => '/chain', kind: 'GET /chain' });
    reports = await app.stopTrace();
  } finally {
    await app.kill();
  }
  const workers = Object.entries(reports).filter(([pid]) => Number(pid) !== app.pid);
  const served = workers.filter(([, r]) => r.kinds.some((k) => k.kind === 'GET /chain' && k.requests > 0));
  if (workers.length !== 2) problems.push(`${workers.length} worker reports, not 2`);
  if (served.length === 0) problems.push('no worker traced a request');
  console.log(`${problems.length ? 'FAIL' : 'ok'.padEnd(4)} cluster: ${workers.length} workers reported, ${served.length} traced requests (${served.map(([pid, r]) => `${pid}: ${r.kinds[0].requests}`).join(', ')})`);
  for (const p of problems) console.log(`     problem: ${p}`);
  return problems.length === 0;
}

function printBad(title, args, report, problems) {
  const ver = execFileSync(args.node, ['-v']).toString().trim();
  console.log(`${problems.length ? 'FAIL' : 'ok'.padEnd(4)} ${title} on ${ver}: stop ${report.stopMs} ms, ${report.memoryBytes} bytes at most`);
  for (const k of report.kinds) {
    const top = k.operations[0];
    console.log(`     ${k.kind}: ${k.requests} finished, running ${pct(k.running)}, queued ${pct(k.queued)}${top ? `, top ${top.name} ${pct(top.share)}` : ''}`);
    for (const n of k.notes) console.log(`       note: ${n}`);
  }
  for (const n of report.notes.concat(report.unseen)) console.log(`     note: ${n}`);
  for (const p of problems) console.log(`     problem: ${p}`);
}

// Last, so that every constant above is defined.
if (require.main !== module) preload();
else main().then((ok) => process.exit(ok ? 0 : 1), (err) => { console.error(err && err.stack || err); process.exit(2); });
