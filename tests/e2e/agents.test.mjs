// Agent-style use of partial output through unchanged third-party clients: a JSON-path watch with
// cancel_on that stops the model the moment a field is complete (the `openai` npm client passes the
// extension fields through), partial_json values, and the Anthropic SDK on POST /v1/messages.
// Usage: node agents.test.mjs <baseURL>. Prints one line per check and "N passed, N failed" last.
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { streamObject, jsonSchema } from 'ai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { assert, check, summary } from './harness.mjs';

const baseURL = process.argv[2];
const client = new OpenAI({ baseURL, apiKey: 'unused', maxRetries: 0, timeout: 60_000 });
const schema = {
  type: 'object',
  properties: {
    verdict: { type: 'string', enum: ['approve', 'reject', 'revise'] },
    reason: { type: 'string', minLength: 200, maxLength: 400 },
    score: { type: 'integer', minimum: 0, maximum: 10 },
  },
  required: ['verdict', 'reason', 'score'],
  additionalProperties: false,
};
const request = (seed, extra = {}) => ({
  model: 'sim',
  messages: [{ role: 'user', content: 'Review this change.' }],
  max_tokens: 400,
  seed,
  response_format: { type: 'json_schema', json_schema: { name: 'review', schema, strict: true } },
  stream: true,
  stream_options: { include_usage: true },
  ...extra,
});

for (const seed of [1, 2, 3]) {
  await check(`a json_path watch with cancel_on stops sim within one token of the field (seed ${seed})`, async () => {
    const full = await client.chat.completions.create(request(seed));
    let fullText = '';
    let fullTokens = 0;
    for await (const chunk of full) {
      fullText += chunk.choices[0]?.delta?.content ?? '';
      if (chunk.usage) fullTokens = chunk.usage.completion_tokens;
    }
    const verdict = JSON.parse(fullText).verdict;

    const stream = await client.chat.completions.create(request(seed, {
      watch: [{ id: 'verdict', json_path: '$.verdict', when: 'complete' }],
      cancel_on: 'verdict',
    }));
    let text = '';
    let deltas = 0;
    let watch = null;
    let finish = null;
    let usage = null;
    for await (const chunk of stream) {
      if (chunk.tokenflow?.watch) watch = chunk.tokenflow.watch;
      const choice = chunk.choices[0];
      if (choice?.delta?.content) { text += choice.delta.content; deltas++; }
      if (choice?.finish_reason) finish = choice.finish_reason;
      if (chunk.usage) usage = chunk.usage;
    }
    assert(watch?.watch_id === 'verdict' && watch.match === verdict, `watch ${JSON.stringify(watch)}, verdict ${verdict}`);
    assert(finish === 'cancelled', `finish_reason ${finish}`);
    assert(fullText.startsWith(text), 'the cancelled text is a prefix of the full answer');
    assert(text.includes(`"verdict":"${verdict}"`) && !text.includes('"score"'), `stopped at ${JSON.stringify(text)}`);
    assert(usage.completion_tokens <= deltas + 1, `usage ${usage.completion_tokens} tokens for ${deltas} deltas`);
    assert(usage.completion_tokens < fullTokens / 2, `cancelled at ${usage.completion_tokens} of ${fullTokens} tokens`);
  });
}

await check('partial_json chunks carry growing values that end as the whole answer', async () => {
  const stream = await client.chat.completions.create(request(5, { stream_options: { include_usage: true, partial_json: true } }));
  let text = '';
  let last = null;
  let count = 0;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? '';
    if (chunk.tokenflow?.partial !== undefined) { last = chunk.tokenflow.partial; count++; }
  }
  assert(count > 3, `${count} partial values`);
  assert(JSON.stringify(last) === JSON.stringify(JSON.parse(text)), `last partial ${JSON.stringify(last)} vs ${text}`);
});

await check('ai sdk: streamObject gets growing partial objects from sim that end as a schema-valid object', async () => {
  const provider = createOpenAICompatible({ name: 'tokenflow', baseURL, apiKey: 'unused', supportsStructuredOutputs: true });
  const result = streamObject({
    model: provider('sim'),
    schema: jsonSchema(schema),
    schemaName: 'review',
    prompt: 'Review this change.',
    maxOutputTokens: 400,
    seed: 6,
    maxRetries: 0,
  });
  let partials = 0;
  for await (const partial of result.partialObjectStream) {
    if (partial && Object.keys(partial).length > 0) partials++;
  }
  const object = await result.object;
  assert(partials > 3, `${partials} partial objects`);
  assert(['approve', 'reject', 'revise'].includes(object.verdict), `verdict ${JSON.stringify(object)}`);
  assert(typeof object.reason === 'string' && object.reason.length >= 200 && Number.isInteger(object.score), `object ${JSON.stringify(object)}`);
});

await check('openai responses: a streamed response from sim numbers its events and its final response matches the deltas', async () => {
  const stream = await client.responses.create({ model: 'sim', input: 'Hello', max_output_tokens: 20, seed: 9, stream: true });
  let text = '';
  let expected = 0;
  let final = null;
  for await (const event of stream) {
    assert(event.sequence_number === expected++, `sequence ${event.sequence_number} after ${expected - 1}`);
    if (event.type === 'response.output_text.delta') text += event.delta;
    if (event.type === 'response.completed' || event.type === 'response.incomplete') final = event.response;
  }
  assert(final?.id?.startsWith('resp_') && final.status === 'incomplete', `final ${JSON.stringify(final)?.slice(0, 200)}`);
  assert(final.output[0].content[0].text === text && text.length > 0, 'output text equals the deltas');
  const again = await client.responses.create({ model: 'sim', input: 'Hello', max_output_tokens: 20, seed: 9 });
  assert(again.output_text === text, `non-streamed ${again.output_text}`);
  const polled = await client.responses.retrieve(final.id);
  assert(polled.output_text === text && polled.usage.output_tokens === 20, 'retrieve gives the same response');
});

const anthropic = new Anthropic({ baseURL: baseURL.replace(/\/v1$/, ''), apiKey: 'unused', maxRetries: 0, timeout: 60_000 });

await check('the Anthropic SDK streams a message from sim and its final message matches the deltas', async () => {
  const stream = anthropic.messages.stream({ model: 'sim', max_tokens: 24, messages: [{ role: 'user', content: 'Hello' }], seed: 8 });
  let text = '';
  stream.on('text', (delta) => { text += delta; });
  const message = await stream.finalMessage();
  assert(message.id.startsWith('msg_'), `id ${message.id}`);
  assert(message.content[0].type === 'text' && message.content[0].text === text && text.length > 0, `text ${JSON.stringify(message.content)}`);
  assert(message.stop_reason === 'max_tokens' && message.usage.output_tokens === 24, `stop ${message.stop_reason}, usage ${JSON.stringify(message.usage)}`);
  const again = await anthropic.messages.create({ model: 'sim', max_tokens: 24, messages: [{ role: 'user', content: 'Hello' }], seed: 8 });
  assert(again.content[0].text === text, 'non-streamed equals streamed');
});

await check('the Anthropic SDK streams tool_use blocks from sim with a forced tool', async () => {
  const tools = [{ name: 'get_weather', description: 'Weather', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }];
  const stream = anthropic.messages.stream({ model: 'sim', max_tokens: 64, messages: [{ role: 'user', content: 'Weather in Zürich?' }], tools, tool_choice: { type: 'tool', name: 'get_weather' }, seed: 3 });
  const message = await stream.finalMessage();
  const use = message.content.find((b) => b.type === 'tool_use');
  assert(use?.name === 'get_weather' && typeof use.input.city === 'string', `content ${JSON.stringify(message.content)}`);
  assert(message.stop_reason === 'tool_use', `stop ${message.stop_reason}`);
});

await check('the Anthropic SDK gets an Anthropic error for an unknown model', async () => {
  try {
    await anthropic.messages.create({ model: 'no-such-model', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] });
    assert(false, 'no error');
  } catch (err) {
    assert(err instanceof Anthropic.NotFoundError, `got ${err}`);
    assert(err.error?.error?.type === 'not_found_error', `body ${JSON.stringify(err.error)}`);
  }
});

summary();
