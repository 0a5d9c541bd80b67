// `tokenflow bench` against a small MCP server written with the official TypeScript SDK
// (fixtures/progress-server.mjs: a progress notification every 20 ms), over Streamable HTTP and over
// stdio, through the built CLI's --json report: median gap 20 ms ± 5, no notification lost, cancel
// latency reported. Usage: node bench.test.mjs CLI_DLL
import { spawn, execFile } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { check, assert, summary } from './harness.mjs';

const cli = process.argv[2];
const fixture = fileURLToPath(new URL('./fixtures/progress-server.mjs', import.meta.url));
const run = promisify(execFile);

async function bench(...args) {
  const { stdout } = await run('dotnet', [cli, 'bench', ...args, '--json'], { timeout: 120_000, maxBuffer: 16 << 20 });
  return JSON.parse(stdout).targets;
}

function assertProgressReport(t, requests) {
  assert(t.requests.completed === requests && t.requests.failed === 0, `requests ${JSON.stringify(t.requests)}, errors ${JSON.stringify(t.errors)}`);
  assert(t.partials === requests * 25, `partials ${t.partials}`);
  assert(t.lost === 0, `lost ${t.lost}`);
  assert(Math.abs(t.gap_ms.p50 - 20) <= 5, `median gap ${t.gap_ms.p50} ms`);
  assert(t.first_partial_ms.samples === requests, `first partial samples ${t.first_partial_ms.samples}`);
}

const server = spawn('node', [fixture, '--http', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
try {
  const [line] = await Promise.race([
    once(server.stdout, 'data'),
    new Promise((_, reject) => setTimeout(() => reject(new Error('fixture did not start in 30 s')), 30_000)),
  ]);
  const url = String(line).match(/listening (\S+)/)[1];

  await check('bench --mcp (TypeScript SDK server): median gap 20 ms ± 5, none lost', async () => {
    const [t] = await bench('--mcp', url, '-c', '2', '-n', '6', '--args', '{"max_tokens":25}');
    assert(t.kind === 'mcp-http', `kind ${t.kind}`);
    assertProgressReport(t, 6);
  });

  await check('bench --mcp --cancel-after: cancel latency reported for every call', async () => {
    const [t] = await bench('--mcp', url, '-n', '4', '--args', '{"max_tokens":200}', '--cancel-after', '5', '--cancel-wait', '1s');
    assert(t.requests.cancelled === 4, `requests ${JSON.stringify(t.requests)}`);
    assert(t.cancel_ms.samples === 4, `cancel samples ${t.cancel_ms.samples}`);
    // The fixture stops before its next notification (≤ 20 ms) and its last byte is on record.
    assert(t.cancel_ms.max >= 0 && t.cancel_ms.max < 1000, `cancel max ${t.cancel_ms.max}`);
    assert(t.lost === 0, `lost ${t.lost}`);
  });

  await check('bench --mcp-stdio (TypeScript SDK server): median gap 20 ms ± 5, none lost, cancel latency', async () => {
    const [t] = await bench('--mcp-stdio', `node ${fixture}`, '-n', '4', '--args', '{"max_tokens":25}');
    assert(t.kind === 'mcp-stdio', `kind ${t.kind}`);
    assertProgressReport(t, 4);
    const [c] = await bench('--mcp-stdio', `node ${fixture}`, '-n', '2', '--args', '{"max_tokens":200}', '--cancel-after', '5');
    assert(c.requests.cancelled === 2 && c.cancel_ms.samples === 2, `cancel ${JSON.stringify(c.requests)} ${JSON.stringify(c.cancel_ms)}`);
    assert(c.cancel_ms.max < 1000, `cancel max ${c.cancel_ms.max}`);
  });
} catch (err) {
  console.log(`not ok - bench checks could not run: ${err?.stack ?? err}`);
  process.exitCode = 1;
} finally {
  server.kill();
}
summary();
