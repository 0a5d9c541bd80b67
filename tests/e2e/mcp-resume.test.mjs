// Resumability of /mcp (stateful sessions, the default) with the official TypeScript MCP SDK, unchanged:
// a generate call whose connection is cut after N progress notifications is resumed with its
// resumption token (Last-Event-ID) and receives notifications N+1… and the result, none twice.
// Usage: node mcp-resume.test.mjs <baseURL A> <baseURL B> [--label name]
//   The call starts on A and is resumed on B: give the same server twice for one process, or two
//   servers sharing a Redis store (the session migrates, the events come from Redis).
// Prints one line per check and "N passed, N failed" last.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, ProgressNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { assert, check, label, summary } from './harness.mjs';

const [a, b] = process.argv.slice(2, 4).map((u) => u.replace(/\/+$/, ''));
const labelAt = process.argv.indexOf('--label');
if (labelAt > 0) label(process.argv[labelAt + 1]);

/**
 * A fetch that cuts the response of the first tools/call once it has carried `after` progress
 * notifications, as a dropped connection would: the body errors and the socket is released.
 */
function cuttingFetch(after, onCut) {
  let armed = true;
  return async (url, init) => {
    const response = await fetch(url, init);
    const isCall = armed && init?.method === 'POST' && typeof init.body === 'string' && init.body.includes('"tools/call"');
    if (!isCall || !response.body) return response;
    armed = false;
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let seen = 0;
    let tail = '';
    let cut = false;
    const body = new ReadableStream({
      async pull(controller) {
        if (cut) {
          // Error only on the next read: erroring now would drop the chunk just handed over.
          await reader.cancel();
          controller.error(new Error('connection cut by the test'));
          onCut();
          return;
        }
        const { value, done } = await reader.read();
        if (done) {
          controller.close();
          return;
        }
        const text = tail + decoder.decode(value, { stream: true });
        seen += (text.match(/notifications\/progress/g) ?? []).length;
        tail = text.slice(-21);
        controller.enqueue(value);
        cut = seen >= after;
      },
    });
    return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
}

const cutAfter = 15;
const maxTokens = 150;
const args = { model: 'sim', prompt: 'x', max_tokens: maxTokens, seed: 21, sim_tokens_per_second: 300 };

await check(`a generate call cut after ${cutAfter} notifications resumes${a === b ? '' : ' on another process'} with N+1… and the result, none twice`, async () => {
  let cutDone;
  const wasCut = new Promise((resolve) => { cutDone = resolve; });
  const first = [];
  let token;
  // No automatic reconnection: this client is gone once cut; another one resumes with the token.
  const transportA = new StreamableHTTPClientTransport(new URL(`${a}/mcp`), {
    fetch: cuttingFetch(cutAfter, cutDone),
    reconnectionOptions: { maxRetries: 0, initialReconnectionDelay: 1000, maxReconnectionDelay: 1000, reconnectionDelayGrowFactor: 1 },
  });
  const clientA = new Client({ name: 'tokenflow-e2e-a', version: '1.0.0' });
  // The transport reports the broken stream once its SSE reader has dispatched every event before the break,
  // so the resumption token is final then (the cut itself happens while the parser may still be behind).
  let disconnected;
  const wasDisconnected = new Promise((resolve) => { disconnected = resolve; });
  clientA.onerror = (error) => { if (/SSE stream disconnected/.test(String(error?.message))) disconnected(); };
  await clientA.connect(transportA);
  const sessionId = transportA.sessionId;
  assert(typeof sessionId === 'string', 'the server gave no session (is Tokenflow:Mcp:SessionMode Stateless?)');
  const call = clientA.callTool({ name: 'generate', arguments: args }, undefined, {
    onprogress: (p) => first.push(p),
    onresumptiontoken: (t) => { token = t; },
  });
  call.catch(() => {});
  const timeout = (what) => new Promise((_, reject) => setTimeout(() => reject(new Error(what)), 30000));
  await Promise.race([wasCut, timeout('never cut')]);
  await Promise.race([wasDisconnected, timeout('the client never noticed the cut')]);
  const protocolVersion = transportA.protocolVersion;
  assert(typeof token === 'string', 'no resumption token (no SSE event ids)');
  // Client A stays open (not closing its session) until the end: the events it parsed before the cut are still
  // being dispatched to its progress handler, and B resumes after the last of them (the token).

  const transportB = new StreamableHTTPClientTransport(new URL(`${b}/mcp`), { sessionId });
  if (protocolVersion) transportB.setProtocolVersion(protocolVersion);
  const clientB = new Client({ name: 'tokenflow-e2e-b', version: '1.0.0' });
  clientB.onerror = () => {};
  await clientB.connect(transportB); // has a session id: no initialize
  // The replayed notifications carry the first call's progress token: take them all.
  const rest = [];
  clientB.setNotificationHandler(ProgressNotificationSchema, (n) => { rest.push(n.params); });
  try {
    const result = await clientB.request(
      { method: 'tools/call', params: { name: 'generate', arguments: args } },
      CallToolResultSchema,
      { resumptionToken: token, timeout: 60000 },
    );
    assert(!result.isError, `tool error: ${JSON.stringify(result.content)}`);
    const { text, finish_reason: finish } = result.structuredContent;
    // Not necessarily `cutAfter`: the cut errors the SDK's SSE pipe, which drops chunks still queued in its decoder
    // when the client lags (a loaded machine). What matters is that B resumes right after what A dispatched.
    assert(first.length > 0, 'no notification before the cut');
    const all = [...first, ...rest];
    const progress = all.map((p) => p.progress);
    assert(progress.every((p, i) => p === i + 1), `progress values ${progress.join(',')} (first ${first.length})`);
    assert(rest.length > 0 && rest[0].progress === first.length + 1, `resumed at ${rest[0]?.progress} after ${first.length}`);
    assert(all.map((p) => p.message).join('') === text, 'notifications do not concatenate to the result');
    assert(all.every((p) => p.total === maxTokens), `total: ${[...new Set(all.map((p) => p.total))]}`);
    assert(finish === 'length', `finish ${finish}`);
  } finally {
    await transportB.terminateSession().catch(() => {});
    await clientB.close();
    await clientA.close();
  }
});

summary();
