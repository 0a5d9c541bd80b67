// The Responses and Messages doors on resumable streams, through unchanged third-party clients and across
// processes: a background response (openai npm) is read until a forced disconnect, then resumed with
// starting_after — on the other process when two are given (two servers sharing one Redis) — with no gap
// and no duplicate; previous_response_id continues a response made on the other process; a Messages stream
// started on one process replays identically on the other.
// Usage: node doors.test.mjs <baseURL-A> [<baseURL-B>] [--label L]. Last line "N passed, N failed".
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { assert, check, label, summary } from './harness.mjs';

const args = process.argv.slice(2);
const labelAt = args.indexOf('--label');
if (labelAt >= 0) {
  label(args[labelAt + 1]);
  args.splice(labelAt, 2);
}
const [urlA, urlB = urlA] = args;
const options = { apiKey: 'unused', maxRetries: 0, timeout: 60_000 };
const a = new OpenAI({ baseURL: urlA, ...options });
const b = new OpenAI({ baseURL: urlB, ...options });
const where = urlA === urlB ? 'the same process' : 'the other process';

/** Reads a Responses event stream into [{sequence_number, type, delta}], optionally stopping (aborting) after `limit` events. */
async function collect(stream, limit = Infinity) {
  const events = [];
  for await (const event of stream) {
    events.push(event);
    if (events.length >= limit) {
      stream.controller.abort();
      break;
    }
  }
  return events;
}

const deltas = (events) => events.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta).join('');

await check(`a background response cut after 12 events resumes with starting_after on ${where}: no gap, no duplicate`, async () => {
  const queued = await a.responses.create({ model: 'sim', input: 'Tell me', background: true, max_output_tokens: 120, seed: 31, sim_tokens_per_second: 150 });
  assert(queued.id.startsWith('resp_') && queued.status === 'in_progress', `queued ${JSON.stringify(queued).slice(0, 200)}`);
  const head = await collect(await a.responses.retrieve(queued.id, { stream: true }), 12);
  assert(head.length === 12, `head ${head.length}`);
  const last = head[head.length - 1].sequence_number;
  const tail = await collect(await b.responses.retrieve(queued.id, { stream: true, starting_after: last }));
  const numbers = [...head, ...tail].map((e) => e.sequence_number);
  assert(numbers.every((n, i) => n === i), `sequence numbers ${numbers.join(',')}`);
  const end = tail[tail.length - 1];
  assert(end.type === 'response.incomplete' && end.response.status === 'incomplete', `end ${end.type}`);
  const whole = await collect(await b.responses.retrieve(queued.id, { stream: true }));
  assert(deltas([...head, ...tail]) === deltas(whole) && deltas(whole) === end.response.output[0].content[0].text, 'resumed text equals the whole text');
  assert(end.response.usage.output_tokens === 120, `usage ${JSON.stringify(end.response.usage)}`);
});

await check(`previous_response_id continues on ${where} a response made on this one`, async () => {
  const first = await a.responses.create({ model: 'sim', input: 'Hello', max_output_tokens: 6, seed: 5 });
  const second = await b.responses.create({ model: 'sim', input: 'And then?', previous_response_id: first.id, max_output_tokens: 6, seed: 5 });
  assert(second.id !== first.id && second.output_text.length > 0, `second ${JSON.stringify(second).slice(0, 200)}`);
  let refused = null;
  try {
    await b.responses.create({ model: 'sim', input: 'x', previous_response_id: 'resp_unknown0000000000' });
  } catch (err) {
    refused = err;
  }
  assert(refused?.status === 404 && refused?.error?.code === 'previous_response_not_found', `unknown previous ${refused?.status} ${JSON.stringify(refused?.error)}`);
});

await check(`a Messages stream (Anthropic SDK) replays identically on ${where}`, async () => {
  const anthropic = new Anthropic({ baseURL: urlA.replace(/\/v1$/, ''), ...options });
  const stream = anthropic.messages.stream({ model: 'sim', max_tokens: 30, messages: [{ role: 'user', content: 'Hi' }], seed: 12, stop_sequences: ['never'] });
  const message = await stream.finalMessage();
  const response = await fetch(`${urlB}/streams/${message.id}/events`);
  const body = await response.text();
  const replayed = body.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)));
  const text = replayed.filter((e) => e.type === 'content_block_delta').map((e) => e.delta.text).join('');
  assert(text === message.content[0].text, `replayed ${JSON.stringify(text)} vs ${JSON.stringify(message.content[0].text)}`);
  const end = replayed.find((e) => e.type === 'message_delta');
  assert(end?.delta.stop_reason === message.stop_reason && end.usage.output_tokens === message.usage.output_tokens, `end ${JSON.stringify(end)}`);
});

summary();
