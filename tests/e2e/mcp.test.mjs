// Drives a running Tokenflow server's MCP door with the official TypeScript MCP SDK, unchanged.
// Usage: node mcp.test.mjs <baseURL> [--label name] [stdio command...]
//   <baseURL>: the server root, like http://127.0.0.1:8080 (the checks use <baseURL>/mcp and /v1).
//   [stdio command...]: optional; a command that serves MCP over stdio, e.g.
//   dotnet src/Tokenflow.Server/bin/Release/net10.0/Tokenflow.Server.dll --mcp-stdio
// Prints one line per check and "N passed, N failed" last.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { assert, check, label, summary } from './harness.mjs';

const baseURL = process.argv[2].replace(/\/+$/, '');
let stdioCommand = process.argv.slice(3);
if (stdioCommand[0] === '--label') {
  label(stdioCommand[1]);
  stdioCommand = stdioCommand.slice(2);
}
async function connect() {
  const client = new Client({ name: 'tokenflow-e2e', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${baseURL}/mcp`)));
  return client;
}

async function streamStatus(id) {
  return (await fetch(`${baseURL}/v1/streams/${id}`)).json();
}

const client = await connect();
const messages = [{ role: 'user', content: 'Say something.' }];

await check('tools/list names the generation tools with output schemas', async () => {
  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name).sort();
  assert(JSON.stringify(names) === JSON.stringify(['cancel_stream', 'generate', 'read_stream', 'start_generation']), `tools: ${names}`);
  for (const tool of tools) assert(tool.outputSchema?.type === 'object', `${tool.name} has no output schema`);
});

await check('generate sends every delta as progress; the deltas concatenate to the result', async () => {
  const deltas = [];
  const result = await client.callTool(
    { name: 'generate', arguments: { model: 'sim', messages, max_tokens: 50, seed: 9 } },
    undefined,
    { onprogress: (p) => deltas.push(p) },
  );
  assert(!result.isError, `tool error: ${JSON.stringify(result.content)}`);
  const { text, stream_id: id, finish_reason: finish, usage } = result.structuredContent;
  assert(deltas.length > 10, `only ${deltas.length} progress notifications`);
  assert(deltas.every((d, i) => d.progress === i + 1), `progress values: ${deltas.map((d) => d.progress)}`);
  assert(deltas.map((d) => d.message).join('') === text, 'deltas do not concatenate to the result');
  assert(result.content[0].type === 'text' && result.content[0].text === text, 'text content differs from structuredContent.text');
  assert(finish === 'length' && usage.completion_tokens === 50, `finish ${finish}, usage ${JSON.stringify(usage)}`);
  assert((await streamStatus(id)).status === 'completed', 'stream not completed');
});

await check('start_generation, read_stream and cancel_stream act on a running stream', async () => {
  const started = await client.callTool({
    name: 'start_generation',
    arguments: { model: 'sim', messages, max_tokens: 100000, sim_tokens_per_second: 200, seed: 3 },
  });
  const id = started.structuredContent.stream_id;
  assert(typeof id === 'string', `started: ${JSON.stringify(started)}`);

  let text = '';
  let after = 0;
  for (let i = 0; i < 3; i++) {
    const read = (await client.callTool({ name: 'read_stream', arguments: { stream_id: id, after, wait_ms: 5000 } })).structuredContent;
    assert(read.text.length > 0 && read.status === 'running' && read.last_seq > after, `read ${JSON.stringify(read)}`);
    text += read.text;
    after = read.last_seq;
  }

  const cancelled = (await client.callTool({ name: 'cancel_stream', arguments: { stream_id: id } })).structuredContent;
  assert(cancelled.status === 'cancelled', `cancel: ${JSON.stringify(cancelled)}`);
  const status = await streamStatus(id);
  assert(status.status === 'cancelled' && status.usage.completion_tokens < 100000, `status ${JSON.stringify(status)}`);

  const whole = (await client.callTool({ name: 'read_stream', arguments: { stream_id: id } })).structuredContent;
  assert(whole.status === 'cancelled' && whole.text.startsWith(text), `whole: ${JSON.stringify(whole).slice(0, 200)}`);

  const resource = await client.readResource({ uri: `tokenflow://streams/${id}` });
  assert(resource.contents[0].text === whole.text, 'the resource text differs from read_stream');
});

await check('bad arguments and unknown streams are tool errors with a clear message', async () => {
  const bad = await client.callTool({ name: 'generate', arguments: { prompt: 'hi', max_tokens: 'many' } });
  assert(bad.isError === true, `not an error: ${JSON.stringify(bad)}`);
  assert(bad.content[0].text.includes("'max_tokens' must be an integer"), `message: ${bad.content[0].text}`);

  const unknown = await client.callTool({ name: 'read_stream', arguments: { stream_id: 'chatcmpl-nope' } });
  assert(unknown.isError === true && unknown.content[0].text.includes('No stream'), `unknown: ${JSON.stringify(unknown)}`);
});

async function waitForCancelled(id) {
  assert(typeof id === 'string', 'no stream id in the first progress notification\'s _meta');
  const deadline = Date.now() + 15000;
  let status;
  do {
    await new Promise((r) => setTimeout(r, 50));
    status = await streamStatus(id);
  } while (status.status === 'running' && Date.now() < deadline);
  assert(status.status === 'cancelled', `status ${JSON.stringify(status)}`);
}

const longCall = { name: 'generate', arguments: { model: 'sim', prompt: 'x', max_tokens: 100000, sim_tokens_per_second: 200 } };

// Stateless, nothing can resume a closed call, so closing is its end. With sessions (the default) the
// client could resume it (MCP transport: a disconnection is not a cancellation), so the stream runs on
// until the resume grace (Tokenflow:Streams:ResumeGrace, 3 s by default) has passed without a resume.
const closeName = client.transport.sessionId === undefined
  ? 'closing the connection during generate cancels its stream at once'
  : 'closing the connection during a resumable generate stops its stream once the resume grace passes';
await check(closeName, async () => {
  const own = await connect();
  let id;
  const call = own.callTool(longCall, undefined, {
    onprogress: (p) => {
      // The first progress notification names the stream in _meta.
      id ??= p._meta?.['tokenflow/stream_id'];
      own.close();
    },
  });
  await call.then(() => { throw new Error('the call was not ended'); }, () => {});
  await waitForCancelled(id);
});

const abortName = 'aborting a generate call (notifications/cancelled) cancels its stream at once';
if (client.transport.sessionId === undefined) {
  // A stateless server answers each POST on its own, so a notifications/cancelled
  // cannot reach the call it names; the client must close the response instead (check above).
  console.log(`ok - ${abortName} # SKIP the server is stateless (Tokenflow:Mcp:SessionMode)`);
} else {
  await check(abortName, async () => {
    const controller = new AbortController();
    let id;
    const call = client.callTool(longCall, undefined, {
      signal: controller.signal,
      onprogress: (p) => {
        id ??= p._meta?.['tokenflow/stream_id'];
        controller.abort();
      },
    });
    await call.then(() => { throw new Error('the call was not aborted'); }, () => {});
    await waitForCancelled(id);
  });
}

await client.close();

if (stdioCommand.length > 0) {
  await check('stdio mode answers tools/list', async () => {
    const stdio = new Client({ name: 'tokenflow-e2e', version: '1.0.0' });
    await stdio.connect(new StdioClientTransport({ command: stdioCommand[0], args: stdioCommand.slice(1), stderr: 'ignore' }));
    try {
      const { tools } = await stdio.listTools();
      assert(tools.some((t) => t.name === 'generate'), `tools: ${tools.map((t) => t.name)}`);
    } finally {
      await stdio.close();
    }
  });
}

summary();
