// Tool calls from the `sim` model through unchanged third-party clients: the official `openai` npm
// client and the Vercel AI SDK (`ai` + `@ai-sdk/openai-compatible`).
// Usage: node tools.test.mjs <baseURL>. Prints one line per check and "N passed, N failed" last.
import OpenAI from 'openai';
import { streamText, tool, jsonSchema, stepCountIs } from 'ai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { assert, check, summary } from './harness.mjs';

const baseURL = process.argv[2];
const client = new OpenAI({ baseURL, apiKey: 'unused', maxRetries: 0, timeout: 60_000 });

const weatherSchema = {
  type: 'object',
  properties: {
    city: { type: 'string' },
    unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
    days: { type: 'integer', minimum: 1, maximum: 14 },
  },
  required: ['city'],
  additionalProperties: false,
};
const tools = [
  { type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters: weatherSchema } },
  { type: 'function', function: { name: 'get_time', description: 'The time in a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } },
];
const messages = [{ role: 'user', content: 'What is the weather in Zürich?' }];

/** The few rules of weatherSchema, checked by hand (no validator library in the e2e set). */
function assertWeather(args) {
  assert(typeof args.city === 'string', `city: ${JSON.stringify(args)}`);
  assert(args.unit === undefined || ['celsius', 'fahrenheit'].includes(args.unit), `unit: ${JSON.stringify(args)}`);
  assert(args.days === undefined || (Number.isInteger(args.days) && args.days >= 1 && args.days <= 14), `days: ${JSON.stringify(args)}`);
  assert(Object.keys(args).every((k) => ['city', 'unit', 'days'].includes(k)), `extra keys: ${JSON.stringify(args)}`);
}

/** Streams a request and joins each call's fragments by index, as OpenAI's docs tell clients to. */
async function streamCalls(request) {
  const stream = await client.chat.completions.create({ ...request, stream: true });
  const calls = [];
  let finish = null;
  let fragments = 0;
  for await (const chunk of stream) {
    const choice = chunk.choices[0];
    if (!choice) continue;
    for (const part of choice.delta?.tool_calls ?? []) {
      fragments++;
      if (part.id) {
        assert(calls[part.index] === undefined, `call ${part.index} started twice`);
        calls[part.index] = { id: part.id, type: part.type, function: { name: part.function.name, arguments: '' } };
      }
      calls[part.index].function.arguments += part.function?.arguments ?? '';
    }
    finish = choice.finish_reason ?? finish;
  }
  return { calls, finish, fragments };
}

await check('openai: streamed tool-call fragments join to the non-streamed tool_calls for several seeds', async () => {
  for (const seed of [1, 2, 3, 17, 99]) {
    const request = { model: 'sim', messages, tools, tool_choice: 'required', seed, sim_tool_calls: 2 };
    const streamed = await streamCalls(request);
    assert(streamed.finish === 'tool_calls', `seed ${seed}: finish_reason ${streamed.finish}`);
    assert(streamed.fragments > streamed.calls.length, `seed ${seed}: arguments came in ${streamed.fragments} fragments only`);

    const whole = await client.chat.completions.create(request);
    const choice = whole.choices[0];
    assert(choice.finish_reason === 'tool_calls', `seed ${seed}: non-streamed finish_reason ${choice.finish_reason}`);
    assert(JSON.stringify(choice.message.tool_calls) === JSON.stringify(streamed.calls),
      `seed ${seed}: streamed ${JSON.stringify(streamed.calls)} != non-streamed ${JSON.stringify(choice.message.tool_calls)}`);
    assert(streamed.calls.map((c) => c.function.name).join() === 'get_weather,get_time', `seed ${seed}: names`);
    assert(streamed.calls.every((c) => /^call_[0-9A-Za-z]{24}$/.test(c.id) && c.type === 'function'), `seed ${seed}: ids`);
    assertWeather(JSON.parse(streamed.calls[0].function.arguments));
    assert(typeof JSON.parse(streamed.calls[1].function.arguments).city === 'string', `seed ${seed}: get_time arguments`);
  }
});

await check('openai: tokenflow-tiny streams a forced tool call whose fragments join to the non-streamed call', async () => {
  const cityTools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string', maxLength: 12 }, days: { type: 'integer', minimum: 1, maximum: 14 } }, required: ['city', 'days'], additionalProperties: false } } }];
  for (const seed of [1, 2]) {
    const request = { model: 'tokenflow-tiny', messages, tools: cityTools, tool_choice: { type: 'function', function: { name: 'get_weather' } }, seed, temperature: 0.8, max_tokens: 64 };
    const streamed = await streamCalls(request);
    assert(streamed.finish === 'tool_calls', `seed ${seed}: finish_reason ${streamed.finish}`);
    assert(streamed.calls.length === 1 && streamed.calls[0].function.name === 'get_weather', `seed ${seed}: ${JSON.stringify(streamed.calls)}`);
    const args = JSON.parse(streamed.calls[0].function.arguments);
    assert(typeof args.city === 'string' && args.city.length <= 12 && Number.isInteger(args.days) && args.days >= 1 && args.days <= 14, `seed ${seed}: arguments ${JSON.stringify(args)}`);
    const whole = await client.chat.completions.create(request);
    assert(JSON.stringify(whole.choices[0].message.tool_calls) === JSON.stringify(streamed.calls),
      `seed ${seed}: streamed ${JSON.stringify(streamed.calls)} != non-streamed ${JSON.stringify(whole.choices[0].message.tool_calls)}`);
  }
});

await check('openai: a named function with parallel_tool_calls false is called once', async () => {
  const whole = await client.chat.completions.create({
    model: 'sim', messages, tools, seed: 5, sim_tool_calls: 3, parallel_tool_calls: false,
    tool_choice: { type: 'function', function: { name: 'get_time' } },
  });
  const calls = whole.choices[0].message.tool_calls;
  assert(calls.length === 1 && calls[0].function.name === 'get_time', JSON.stringify(calls));
});

await check('openai: a conversation with the tool results continues', async () => {
  const first = await client.chat.completions.create({ model: 'sim', messages, tools, tool_choice: 'required', seed: 8 });
  const assistant = first.choices[0].message;
  const next = [...messages, assistant, ...assistant.tool_calls.map((c) => ({ role: 'tool', tool_call_id: c.id, content: '{"temperature":21}' }))];
  const stream = await client.chat.completions.create({ model: 'sim', messages: next, tools, seed: 8, max_tokens: 10, stream: true });
  let text = '';
  let finish = null;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? '';
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  assert(text.length > 0 && finish === 'length', `text ${JSON.stringify(text)}, finish ${finish}`);
});

await check('openai: a tool message without tool_call_id is a 400 naming the field', async () => {
  try {
    await client.chat.completions.create({ model: 'sim', messages: [...messages, { role: 'tool', content: 'x' }] });
    assert(false, 'accepted');
  } catch (err) {
    assert(err.status === 400 && err.param === 'messages[1].tool_call_id', `${err.status} ${err.param} ${err.message}`);
  }
});

await check('openai: json_schema response_format gives JSON content', async () => {
  const whole = await client.chat.completions.create({
    model: 'sim', messages, seed: 4,
    response_format: { type: 'json_schema', json_schema: { name: 'weather', schema: weatherSchema, strict: true } },
  });
  assert(whole.choices[0].finish_reason === 'stop', `finish ${whole.choices[0].finish_reason}`);
  assertWeather(JSON.parse(whole.choices[0].message.content));
});

const provider = createOpenAICompatible({ name: 'tokenflow', baseURL, apiKey: 'unused' });

await check('ai sdk: streamText with tools gets sim tool calls, runs them and continues with the results', async () => {
  const executed = [];
  const result = streamText({
    model: provider('sim'),
    messages,
    seed: 6,
    maxOutputTokens: 12,
    tools: {
      get_weather: tool({
        description: 'Weather for a city',
        inputSchema: jsonSchema(weatherSchema),
        execute: async (input) => { executed.push(input); return { temperature: 21 }; },
      }),
    },
    toolChoice: 'required',
    // The second step answers the tool results in text.
    prepareStep: ({ stepNumber }) => (stepNumber > 0 ? { toolChoice: 'none' } : {}),
    stopWhen: stepCountIs(2),
  });
  const parts = [];
  for await (const part of result.fullStream) parts.push(part.type);
  const steps = await result.steps;
  assert(steps.length === 2, `steps: ${steps.length} (${parts.join(',')})`);
  assert(steps[0].finishReason === 'tool-calls', `step 1 finish ${steps[0].finishReason}`);
  assert(steps[0].toolCalls.length === 1 && steps[0].toolCalls[0].toolName === 'get_weather', JSON.stringify(steps[0].toolCalls));
  assert(executed.length === 1, `executed ${executed.length}`);
  assertWeather(executed[0]);
  assert(parts.includes('tool-input-delta'), `no streamed tool input: ${parts.join(',')}`);
  assert(steps[1].text.length > 0 && steps[1].finishReason === 'length', `step 2: ${steps[1].finishReason} ${JSON.stringify(steps[1].text)}`);
});

summary();
