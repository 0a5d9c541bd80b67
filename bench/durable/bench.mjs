#!/usr/bin/env node
// Durable Streams benchmark: append throughput and SSE fan-out latency against any Durable Streams base URL.
//
//   node bench/durable/bench.mjs --url http://127.0.0.1:4437/v1/durable --label reference [--duration 5]
//        [--writers 1,16] [--tailers 1,100,1000] [--rate 200] [--append-threads 2] [--json out.json]
//
// (a) appends/s: N writers, EACH ON ITS OWN STREAM, one POST in flight per writer (closed loop), small JSON
//     messages {"i":N,"t":"hello"}, keep-alive agents. Writers run in worker threads (--append-threads).
// (b) delivery latency: T SSE tailers (GET ?offset=-1&live=sse) on ONE stream; one writer in a worker thread
//     appends {"i":N,"t":"hello","ts":<monotonic ms>} at --rate msg/s (open loop) for --duration s. Latency =
//     receipt time in the tailer's 'data' callback - ts (same CLOCK_MONOTONIC, same process).
// Only Node built-ins are used (node:http); no dependencies.
import http from 'node:http';
import { Worker } from 'node:worker_threads';
import { writeFileSync, readFileSync } from 'node:fs';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1] && !all[i + 1].startsWith('--') ? all[i + 1] : 'true']);
  return acc;
}, []));
const base = (args.url || 'http://127.0.0.1:4437/v1/durable').replace(/\/$/, '');
const label = args.label || base;
const durationMs = Number(args.duration || 5) * 1000;
const writerCounts = (args.writers || '1,16').split(',').map(Number).filter((n) => n > 0);
const tailerCounts = (args.tailers || "1,100,1000").split(",").map(Number).filter((n) => n > 0);
const rate = Number(args.rate || 200);
const appendThreads = Number(args['append-threads'] || 2);
const runId = `${Date.now().toString(36)}-${process.pid}`;
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
const serverPid = args['server-pid'] ? Number(args['server-pid']) : 0;
const warmupMs = Number(args.warmup ?? 2) * 1000;
// Server CPU time in ms (utime+stime from /proc/<pid>/stat, 100 ticks/s), or NaN without --server-pid.
function serverCpuMs() {
  if (!serverPid) return NaN;
  try {
    const f = readFileSync(`/proc/${serverPid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch { return NaN; }
}
const log = (...a) => console.error(`[${label}]`, ...a);

function request(method, url, { headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (data += c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: data }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function createStream(path) {
  const r = await request('PUT', `${base}/${path}`, { headers: { 'content-type': 'application/json' } });
  if (r.status !== 201 && r.status !== 200) throw new Error(`PUT ${path}: HTTP ${r.status} ${r.body}`);
  return `${base}/${path}`;
}
const deleteStream = (url) => request('DELETE', url).catch(() => {});

function runWorker(data) {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./writer-worker.mjs', import.meta.url), { workerData: data });
    w.once('message', resolve);
    w.once('error', reject);
  });
}

async function appendBench(writers, phaseMs = durationMs, quiet = false) {
  const urls = [];
  for (let k = 0; k < writers; k++) urls.push(await createStream(`bench-${runId}/append-${writers}w-${k}`));
  const threads = Math.min(appendThreads, writers);
  const groups = Array.from({ length: threads }, (_, t) => urls.filter((_, k) => k % threads === t));
  const cpu0 = process.cpuUsage();
  const s0 = serverCpuMs();
  const results = await Promise.all(groups.map((g) => runWorker({ mode: 'append', urls: g, durationMs: phaseMs })));
  const cpu = process.cpuUsage(cpu0);
  const serverCpu = serverCpuMs() - s0;
  const ok = results.reduce((s, r) => s + r.ok, 0);
  const errors = results.reduce((s, r) => s + r.errors, 0);
  const elapsed = Math.max(...results.map((r) => r.elapsedMs));
  const statuses = {};
  for (const r of results) for (const [k, v] of Object.entries(r.statuses)) statuses[k] = (statuses[k] || 0) + v;
  const errorSamples = results.flatMap((r) => r.errorSamples).slice(0, 5);
  // Check the last stream's tail offset moved: a HEAD must succeed.
  for (const u of urls) await deleteStream(u);
  const res = { writers, ok, errors, statuses, errorSamples, appendsPerSec: ok / (elapsed / 1000),
    clientCpuPct: ((cpu.user + cpu.system) / 1000) / elapsed * 100 /* main thread + workers (process-wide) */,
    serverCpuPct: serverCpu / elapsed * 100 };
  if (!quiet) log(`appends ${writers} writer(s): ${res.appendsPerSec.toFixed(0)}/s ok=${ok} errors=${errors} client cpu=${res.clientCpuPct.toFixed(0)}% server cpu=${res.serverCpuPct.toFixed(0)}%`, errors ? JSON.stringify({ statuses, errorSamples }) : '');
  return res;
}

function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

async function latencyBench(tailers, phaseMs = durationMs, quiet = false) {
  const url = await createStream(`bench-${runId}/fanout-${tailers}`);
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  const latencies = new Float64Array(Math.ceil(rate * phaseMs / 1000) * tailers + 16);
  let n = 0;
  const perTailer = new Int32Array(tailers);
  const errors = [];
  const reqs = [];
  let connected = 0;
  let onAllConnected;
  const allConnected = new Promise((r) => (onAllConnected = r));
  const u = new URL(`${url}?offset=-1&live=sse`);
  for (let t = 0; t < tailers; t++) {
    const req = http.request({ agent, host: u.hostname, port: u.port, path: u.pathname + u.search, method: 'GET',
      headers: { accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) { errors.push(`tailer ${t}: HTTP ${res.statusCode}`); res.resume(); return; }
      res.setEncoding('utf8');
      let buf = '';
      let first = true;
      res.on('data', (chunk) => {
        const now = nowMs();
        if (first) { first = false; if (++connected === tailers) onAllConnected(); }
        buf += chunk;
        const end = buf.lastIndexOf('\n\n');
        if (end < 0) return;
        const complete = buf.slice(0, end);
        buf = buf.slice(end + 2);
        // Cheap scan: every delivered message carries "ts":<number>; control events do not.
        let p = 0;
        while ((p = complete.indexOf('"ts":', p)) >= 0) {
          p += 5;
          let q = p;
          while (q < complete.length) { const c = complete.charCodeAt(q); if ((c >= 48 && c <= 57) || c === 46) q++; else break; }
          latencies[n++] = now - Number(complete.slice(p, q));
          perTailer[t]++;
        }
      });
      res.on('error', (e) => { if (!stopping) errors.push(`tailer ${t}: ${e.code || e}`); });
      res.on('close', () => { if (!stopping) errors.push(`tailer ${t}: closed early`); });
    });
    req.on('error', (e) => { if (!stopping) errors.push(`tailer ${t}: ${e.code || e}`); });
    req.end();
    reqs.push(req);
  }
  let stopping = false;
  const timeout = new Promise((r) => setTimeout(() => r('timeout'), 30000));
  if ((await Promise.race([allConnected.then(() => 'ok'), timeout])) !== 'ok') errors.push(`only ${connected}/${tailers} tailers got their first SSE event within 30 s`);
  const cpu0 = process.cpuUsage();
  const s0 = serverCpuMs();
  const t0 = nowMs();
  const w = await runWorker({ mode: 'paced', url, rate, durationMs: phaseMs });
  // Let stragglers drain: wait until every tailer has every acknowledged message, at most 10 s.
  const expected = w.ok;
  const drainStart = nowMs();
  while (nowMs() - drainStart < 10000) {
    let done = true;
    for (let t = 0; t < tailers; t++) if (perTailer[t] < expected) { done = false; break; }
    if (done) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const elapsed = nowMs() - t0;
  const cpu = process.cpuUsage(cpu0);
  const serverCpu = serverCpuMs() - s0;
  stopping = true;
  for (const r of reqs) r.destroy();
  agent.destroy();
  await deleteStream(url);
  let missing = 0;
  for (let t = 0; t < tailers; t++) missing += Math.max(0, expected - perTailer[t]);
  const sorted = Float64Array.from(latencies.subarray(0, n)).sort();
  const res = { tailers, writer: w, delivered: n, expectedDeliveries: expected * tailers, missing,
    p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1],
    errors: errors.slice(0, 10), errorCount: errors.length,
    clientCpuPct: ((cpu.user + cpu.system) / 1000) / elapsed * 100, serverCpuPct: serverCpu / elapsed * 100 };
  if (!quiet) log(`latency ${tailers} tailer(s): p50=${res.p50?.toFixed(2)}ms p99=${res.p99?.toFixed(2)}ms max=${res.max?.toFixed(1)}ms ` +
      `delivered=${n}/${res.expectedDeliveries} writer ok=${w.ok}/${w.sent} errs=${w.errors} maxLag=${w.maxLagMs.toFixed(1)}ms ` +
      `tailer errors=${errors.length} client cpu=${res.clientCpuPct.toFixed(0)}% server cpu=${res.serverCpuPct.toFixed(0)}%`, errors.length ? errors.slice(0, 3) : '');
  return res;
}

const out = { label, base, durationMs, warmupMs, rate, appendThreads, appends: [], latency: [] };
// Warm-up (JIT, connection pools) on throwaway streams, identical for every server; not reported.
if (warmupMs > 0) { log(`warm-up ${warmupMs / 1000}s`); await appendBench(16, warmupMs, true); await latencyBench(10, warmupMs, true); }
for (const wN of writerCounts) out.appends.push(await appendBench(wN));
for (const tN of tailerCounts) out.latency.push(await latencyBench(tN));
if (args.json) writeFileSync(args.json, JSON.stringify(out, null, 2));
console.log(JSON.stringify(out));
