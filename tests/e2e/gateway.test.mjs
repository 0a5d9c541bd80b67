// Tokenflow as a gateway, two processes: a Tokenflow server configured with a second Tokenflow server as
// its OpenAI-compatible upstream ("up"), driven by the official `openai` npm client.
// Usage: node gateway.test.mjs <gateway baseURL> <upstream baseURL>. Last line "N passed, N failed".
import OpenAI from 'openai';
import { assert, check, summary } from './harness.mjs';

const gateway = new OpenAI({ baseURL: process.argv[2], apiKey: 'unused', maxRetries: 0, timeout: 60_000 });
const upstream = new OpenAI({ baseURL: process.argv[3], apiKey: 'unused', maxRetries: 0, timeout: 60_000 });
const messages = [{ role: 'user', content: 'Say something.' }];

async function collect(stream) {
  let text = '';
  let usage = null;
  let finish = null;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? '';
    finish = chunk.choices[0]?.finish_reason ?? finish;
    usage = chunk.usage ?? usage;
  }
  return { text, usage, finish };
}

await check('models.list on the gateway lists the upstream\'s models as up/<id>', async () => {
  const ids = [];
  for await (const model of gateway.models.list()) ids.push(model.id);
  assert(ids.includes('sim') && ids.includes('up/sim'), `models: ${ids.join(', ')}`);
});

await check('a stream through the gateway has the upstream\'s exact text, finish_reason and usage', async () => {
  const request = { messages, stream: true, max_tokens: 40, seed: 4, stream_options: { include_usage: true } };
  const direct = await collect(await upstream.chat.completions.create({ ...request, model: 'sim' }));
  const proxied = await collect(await gateway.chat.completions.create({ ...request, model: 'up/sim' }));
  assert(proxied.text.length > 0 && proxied.text === direct.text, `texts differ: ${JSON.stringify(proxied.text)} vs ${JSON.stringify(direct.text)}`);
  assert(proxied.finish === 'length', `finish_reason ${proxied.finish}`);
  assert(proxied.usage?.completion_tokens === 40 && proxied.usage?.prompt_tokens === direct.usage?.prompt_tokens, `usage ${JSON.stringify(proxied.usage)} vs ${JSON.stringify(direct.usage)}`);
});

await check('a non-streamed request through the gateway answers whole', async () => {
  const whole = await gateway.chat.completions.create({ model: 'up/sim', messages, max_tokens: 12, seed: 4 });
  const direct = await upstream.chat.completions.create({ model: 'sim', messages, max_tokens: 12, seed: 4 });
  assert(whole.choices[0].message.content === direct.choices[0].message.content, 'texts differ');
});

await check('an unknown upstream prefix is 404 model_not_found', async () => {
  try {
    await gateway.chat.completions.create({ model: 'nope/sim', messages, max_tokens: 2 });
    assert(false, 'no error');
  } catch (err) {
    assert(err.status === 404 && err.code === 'model_not_found', `status ${err.status} code ${err.code}`);
  }
});

summary();
