// Worker thread for bench.mjs: runs append load off the main (SSE-parsing) thread.
//   mode "append": N closed-loop writers, one request in flight each, for `durationMs`.
//   mode "paced":  one open-loop writer at `rate` messages/s for `durationMs` (timestamps inside messages).
import { parentPort, workerData } from 'node:worker_threads';
import http from 'node:http';
import net from 'node:net';

// Minimal keep-alive HTTP/1.1 client for the closed-loop append phase: one socket per writer, one request in
// flight, responses parsed just enough (status, Content-Length / chunked / 204). node:http's client costs
// several times more CPU per request, and on a 2-core box the client shares the cores with the server.
class RawConn {
  constructor(url) {
    const u = new URL(url);
    this.host = u.hostname; this.port = Number(u.port);
    this.head = `POST ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: application/json\r\nConnection: keep-alive\r\nContent-Length: `;
    this.buf = Buffer.alloc(0); this.pending = null;
  }
  connect() {
    return new Promise((resolve, reject) => {
      this.sock = net.connect(this.port, this.host, resolve);
      this.sock.setNoDelay(true);
      this.sock.once('error', reject);
      this.sock.on('error', (e) => this.fail(e.code || String(e)));
      this.sock.on('close', () => this.fail('socket closed'));
      this.sock.on('data', (d) => { this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d; this.parse(); });
    });
  }
  fail(err) { const p = this.pending; this.pending = null; if (p) p({ status: 0, error: err }); }
  parse() {
    if (!this.pending) return;
    const he = this.buf.indexOf('\r\n\r\n');
    if (he < 0) return;
    const head = this.buf.toString('latin1', 0, he);
    const status = Number(head.slice(9, 12));
    let end = he + 4;
    const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (status === 204 || status === 304) { /* no body */ }
    else if (cl) { end += Number(cl[1]); if (this.buf.length < end) return; }
    else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
      const z = this.buf.indexOf('0\r\n\r\n', he + 4);
      if (z < 0) return;
      end = z + 5;
    }
    this.buf = this.buf.subarray(end);
    const p = this.pending; this.pending = null; p({ status });
  }
  post(body) {
    return new Promise((resolve) => {
      this.pending = resolve;
      this.sock.write(this.head + Buffer.byteLength(body) + '\r\n\r\n' + body);
    });
  }
}

const nowMs = () => Number(process.hrtime.bigint()) / 1e6; // CLOCK_MONOTONIC, same across threads

function post(agent, url, body) {
  return new Promise((resolve) => {
    const u = new URL(url);
    const req = http.request({
      agent, host: u.hostname, port: u.port, path: u.pathname + u.search, method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode }));
      res.on('error', (e) => resolve({ status: 0, error: String(e) }));
    });
    req.on('error', (e) => resolve({ status: 0, error: e.code || String(e) }));
    req.end(body);
  });
}

async function appendMode({ urls, durationMs }) {
  const conns = await Promise.all(urls.map(async (u) => { const c = new RawConn(u); await c.connect(); return c; }));
  const deadline = nowMs() + durationMs;
  const stats = { ok: 0, errors: 0, statuses: {}, errorSamples: [] };
  const start = nowMs();
  await Promise.all(conns.map(async (conn) => {
    let i = 0;
    while (nowMs() < deadline) {
      const r = await conn.post(`{"i":${i++},"t":"hello"}`);
      if (r.status === 200 || r.status === 204) stats.ok++;
      else {
        stats.errors++;
        stats.statuses[r.status] = (stats.statuses[r.status] || 0) + 1;
        if (stats.errorSamples.length < 5) stats.errorSamples.push(r.error || `HTTP ${r.status}`);
      }
    }
  }));
  stats.elapsedMs = nowMs() - start;
  for (const c of conns) c.sock.destroy();
  return stats;
}

async function pacedMode({ url, rate, durationMs }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const interval = 1000 / rate;
  const total = Math.round(rate * durationMs / 1000);
  const start = nowMs();
  const stats = { sent: 0, ok: 0, errors: 0, statuses: {}, errorSamples: [], maxLagMs: 0 };
  const inflight = [];
  for (let i = 0; i < total; i++) {
    const due = start + i * interval;
    let wait = due - nowMs();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const lag = nowMs() - due;
    if (lag > stats.maxLagMs) stats.maxLagMs = lag;
    const ts = nowMs();
    stats.sent++;
    inflight.push(post(agent, url, `{"i":${i},"t":"hello","ts":${ts.toFixed(3)}}`).then((r) => {
      if (r.status === 200 || r.status === 204) stats.ok++;
      else {
        stats.errors++;
        stats.statuses[r.status] = (stats.statuses[r.status] || 0) + 1;
        if (stats.errorSamples.length < 5) stats.errorSamples.push(r.error || `HTTP ${r.status}`);
      }
    }));
  }
  await Promise.all(inflight);
  stats.elapsedMs = nowMs() - start;
  agent.destroy();
  return stats;
}

const run = workerData.mode === 'append' ? appendMode : pacedMode;
run(workerData).then((s) => parentPort.postMessage(s));
