// Starts the reference Node server (@durable-streams/server 0.3.7, in-memory) from tests/e2e/node_modules.
//   node bench/durable/ref-server.mjs [port]
import { DurableStreamTestServer } from '../../tests/e2e/node_modules/@durable-streams/server/dist/index.js';
const port = Number(process.argv[2] || 4437);
const server = new DurableStreamTestServer({ port, host: '127.0.0.1' });
await server.start();
console.log(`reference server listening on http://127.0.0.1:${port}`);
const stop = async () => { await server.stop(); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
