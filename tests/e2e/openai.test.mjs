// Drives a running Tokenflow server with the official `openai` npm client, unchanged.
// Usage: node openai.test.mjs <baseURL>. Prints one line per check and "N passed, N failed" last.
import OpenAI from 'openai';
import { assert, check, summary } from './harness.mjs';

const baseURL = process.argv[2];
const client = new OpenAI({ baseURL, apiKey: 'unused', maxRetries: 0, timeout: 60_000 });
const messages = [{ role: 'user', content: 'Say something.' }];

await check('models.list includes the embedded model and sim', async () => {
  const ids = [];
  for await (const model of client.models.list()) ids.push(model.id);
  assert(ids.includes('tokenflow-tiny') && ids.includes('sim'), `models: ${ids.join(', ')}`);
});

await check('the embedded model streams a continuation token by token', async () => {
  const stream = await client.chat.completions.create({
    model: 'tokenflow-tiny', messages: [{ role: 'user', content: 'In the beginning' }], stream: true, max_tokens: 24, seed: 3,
  });
  let text = '';
  let deltas = 0;
  for await (const chunk of stream) {
    const content = chunk.choices[0]?.delta?.content;
    if (content) { text += content; deltas++; }
  }
  assert(deltas > 3, `only ${deltas} deltas`);
  assert(text.trim().length > 0, 'no text');
});

await check('chat.completions.create({stream:true}) streams deltas, finish_reason and usage', async () => {
  const stream = await client.chat.completions.create({
    model: 'sim', messages, stream: true, max_tokens: 30, seed: 9, stream_options: { include_usage: true },
  });
  let text = '';
  let chunks = 0;
  let finish = null;
  let usage = null;
  let id = null;
  for await (const chunk of stream) {
    chunks++;
    id ??= chunk.id;
    assert(chunk.id === id, 'chunk ids differ');
    if (chunk.choices[0]?.delta?.content) text += chunk.choices[0].delta.content;
    if (chunk.choices[0]?.finish_reason) finish = chunk.choices[0].finish_reason;
    if (chunk.usage) usage = chunk.usage;
  }
  assert(id.startsWith('chatcmpl-'), `id ${id}`);
  assert(chunks > 10, `only ${chunks} chunks`);
  assert(text.length > 0, 'no text');
  assert(finish === 'length', `finish_reason ${finish}`);
  assert(usage?.completion_tokens === 30, `usage ${JSON.stringify(usage)}`);

  const whole = await client.chat.completions.create({ model: 'sim', messages, max_tokens: 30, seed: 9 });
  assert(whole.choices[0].message.content === text, 'non-streaming text differs from the streamed text');
});

await check('completions.create({stream:true}) streams text', async () => {
  const stream = await client.completions.create({ model: 'sim', prompt: 'Once', stream: true, max_tokens: 10, seed: 2 });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.text ?? '';
  assert(text.length > 0, 'no text');
});

await check('the stream helper assembles the final message', async () => {
  const runner = client.chat.completions.stream({ model: 'sim', messages, max_tokens: 12, seed: 4 });
  const deltas = [];
  runner.on('content', (delta) => deltas.push(delta));
  const final = await runner.finalChatCompletion();
  assert(final.choices[0].message.content === deltas.join(''), 'final != deltas');
});

await check('an unknown model is a NotFoundError with code model_not_found', async () => {
  try {
    await client.chat.completions.create({ model: 'nope', messages });
    throw new Error('no error');
  } catch (err) {
    assert(err instanceof OpenAI.NotFoundError, `got ${err?.constructor?.name}`);
    assert(err.code === 'model_not_found', `code ${err.code}`);
  }
});

await check('an invalid field is a BadRequestError naming the param', async () => {
  try {
    await client.chat.completions.create({ model: 'sim', messages, temperature: 9 });
    throw new Error('no error');
  } catch (err) {
    assert(err instanceof OpenAI.BadRequestError, `got ${err?.constructor?.name}`);
    assert(err.param === 'temperature', `param ${err.param}`);
  }
});

await check('aborting the request cancels the stream on the server', async () => {
  const controller = new AbortController();
  const stream = await client.chat.completions.create(
    { model: 'sim', messages, stream: true, max_tokens: 100000, sim_tokens_per_second: 200, resume_grace_ms: 0 },
    { signal: controller.signal });
  let id = null;
  try {
    for await (const chunk of stream) {
      id = chunk.id;
      controller.abort();
    }
  } catch (err) {
    assert(err.name === 'AbortError' || err instanceof OpenAI.APIUserAbortError, `got ${err}`);
  }
  const deadline = Date.now() + 15_000;
  let status;
  do {
    await new Promise((r) => setTimeout(r, 50));
    status = await (await fetch(`${baseURL}/streams/${id}`)).json();
  } while (status.status === 'running' && Date.now() < deadline);
  assert(status.status === 'cancelled', `status ${JSON.stringify(status)}`);
});

summary();
