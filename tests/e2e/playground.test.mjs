// The playground page (GET /) in real headless Chromium (Debian's `chromium`, driven by playwright-core):
// tokens appear before the stream ends, drop + resume gives the text of an uninterrupted run with the same
// seed (SSE and WebSocket doors), cancel makes the server report the stream cancelled, a second page watching
// the same stream shows the same text, tool calls and watch events render, narrow screens, labels, nothing
// fetched from elsewhere; with --api-key, the page against a server that requires that key.
// Usage: node playground.test.mjs <origin> [--api-key KEY] [--screenshots DIR]
// Prints one line per check and "N passed, N failed" last.
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { assert, check, fail, label, summary } from './harness.mjs';

const origin = process.argv[2].replace(/\/$/, '');
const option = (name) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const apiKey = option('--api-key');
const shots = option('--screenshots') ?? join(tmpdir(), 'tokenflow-playground');
mkdirSync(shots, { recursive: true });
label(apiKey ? 'playground, api key' : 'playground');

const WAIT = 60_000; // every wait below has this (or a shorter) timeout
const executablePath = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => p && existsSync(p));
if (!executablePath) {
  fail('headless Chromium is available', 'no chromium executable (install Debian\'s `chromium` package, or set CHROMIUM_PATH): the playground checks did not run');
  summary();
  process.exit();
}

const authHeaders = apiKey ? { Authorization: `Bearer ${apiKey}` } : {};
async function api(path, init = {}) {
  const response = await fetch(origin + path, {
    ...init,
    headers: { 'Content-Type': 'application/json', ...authHeaders, ...init.headers },
    signal: AbortSignal.timeout(WAIT),
  });
  const body = await response.json();
  assert(response.ok, `${path}: ${response.status} ${JSON.stringify(body)}`);
  return body;
}
// The text sim produces for a seed, from the server without the page (non-streaming).
async function reference(seed, maxTokens, extra = {}) {
  const body = await api('/v1/chat/completions', {
    method: 'POST',
    body: JSON.stringify({ model: 'sim', messages: [{ role: 'user', content: 'hi' }], max_tokens: maxTokens, seed, ...extra }),
  });
  return body.choices[0].message.content;
}

const browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-gpu'], timeout: WAIT });
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
context.setDefaultTimeout(WAIT);
const foreign = [];
const consoleErrors = [];
context.on('request', (request) => {
  const url = request.url();
  if (!url.startsWith(origin) && !url.startsWith(origin.replace(/^http/, 'ws')) && !url.startsWith('data:')) foreign.push(url);
});

async function openPage(ctx = context) {
  const page = await ctx.newPage();
  page.on('console', (message) => { if (message.type() === 'error') consoleErrors.push(message.text()); });
  page.on('pageerror', (err) => consoleErrors.push(String(err)));
  await page.goto(`${origin}/`, { timeout: WAIT });
  return page;
}
const byId = (page, id) => page.getByTestId(id);
const text = (page, id) => byId(page, id).textContent();
async function waitModels(page) {
  await page.waitForFunction(() => document.querySelector('[data-testid=model]').dataset.loaded === 'true', null, { timeout: WAIT });
}
async function waitStatus(page, ...states) {
  await page.waitForFunction((s) => s.includes(document.querySelector('[data-testid=status]').textContent), states, { timeout: WAIT });
  return text(page, 'status');
}
async function waitOutput(page, minLength) {
  await page.waitForFunction((n) => document.querySelector('[data-testid=output]').textContent.length >= n, minLength, { timeout: WAIT });
}
// Fills the request form for sim; extra are more fields (as the page's JSON box).
async function fill(page, { seed, maxTokens, tps, door = 'sse', extra = '' }) {
  await byId(page, 'model').selectOption('sim');
  await byId(page, 'door').selectOption(door);
  await byId(page, 'prompt').fill('hi');
  await byId(page, 'max-tokens').fill(String(maxTokens));
  await byId(page, 'seed').fill(String(seed));
  await byId(page, 'sim-tps').fill(String(tps));
  await page.evaluate(() => { document.querySelector('details').open = true; });
  await byId(page, 'extra').fill(extra);
}
async function serverStatus(id) {
  return (await api(`/v1/streams/${encodeURIComponent(id)}`)).status;
}

if (apiKey) {
  await check('the page loads without a key while the API still requires one', async () => {
    const page = await fetch(`${origin}/`, { signal: AbortSignal.timeout(WAIT) });
    assert(page.status === 200 && (page.headers.get('content-type') ?? '').startsWith('text/html'), `GET / -> ${page.status} ${page.headers.get('content-type')}`);
    const models = await fetch(`${origin}/v1/models`, { signal: AbortSignal.timeout(WAIT) });
    assert(models.status === 401, `GET /v1/models without a key -> ${models.status}`);
  });

  await check('with the key entered, the page lists models, streams and sends the key as a bearer token only', async () => {
    const page = await openPage();
    await byId(page, 'error').waitFor({ state: 'visible', timeout: WAIT });
    assert((await text(page, 'error')).includes('401'), `error shown: ${await text(page, 'error')}`);
    const sent = [];
    page.on('request', (request) => { if (request.url().includes('/v1/')) sent.push(request.headers().authorization); });
    await byId(page, 'api-key').fill(apiKey);
    await byId(page, 'api-key').dispatchEvent('change');
    await waitModels(page);
    await fill(page, { seed: 11, maxTokens: 40, tps: 0 });
    await byId(page, 'send').click();
    assert(await waitStatus(page, 'completed', 'failed', 'cancelled') === 'completed', `status ${await text(page, 'status')}: ${await text(page, 'error')}`);
    const output = await text(page, 'output');
    const expected = await reference(11, 40);
    assert(output === expected, `page ${JSON.stringify(output)} != server ${JSON.stringify(expected)}`);
    assert(await serverStatus(await text(page, 'stream-id')) === 'completed', 'the stream is not completed for this key');
    assert(sent.length >= 2 && sent.every((h) => h === `Bearer ${apiKey}`), `authorization headers sent: ${JSON.stringify(sent)}`);
    const storage = await page.evaluate(() => ({ session: Object.values(sessionStorage), local: Object.values(localStorage), cookie: document.cookie }));
    assert(storage.session.includes(apiKey), 'the key is not in sessionStorage');
    assert(!storage.local.some((v) => v.includes(apiKey)) && !storage.cookie.includes(apiKey), 'the key leaked into localStorage or a cookie');
    await page.reload();
    assert(await byId(page, 'api-key').inputValue() === apiKey, 'the key did not survive a reload of the tab');
    await waitModels(page);
    await page.screenshot({ path: join(shots, 'playground-api-key.png'), fullPage: true });
    await page.close();
  });

  await check('the WebSocket door with a key streams (the key travels as a subprotocol); a wrong key fails with an explanation', async () => {
    const page = await openPage();
    await byId(page, 'api-key').fill(apiKey);
    await byId(page, 'api-key').dispatchEvent('change');
    await waitModels(page);
    await fill(page, { seed: 12, maxTokens: 30, tps: 0, door: 'ws' });
    await byId(page, 'send').click();
    assert(await waitStatus(page, 'completed', 'failed', 'cancelled') === 'completed', `status ${await text(page, 'status')}: ${await text(page, 'error')}`);
    const expected = await reference(12, 30);
    assert(await text(page, 'output') === expected, `page ${JSON.stringify(await text(page, 'output'))} != server ${JSON.stringify(expected)}`);
    assert(await serverStatus(await text(page, 'stream-id')) === 'completed', 'the stream is not completed for this key');

    // Leaving the field relists the models with the wrong key (a 401 of its own): let that error show first, so the
    // send's error is the last one (clicking send straight away raced the two).
    await byId(page, 'api-key').fill(`${apiKey}-wrong`);
    await byId(page, 'api-key').blur();
    await page.waitForFunction(() => document.querySelector('[data-testid=error]').textContent.includes('Could not list models'), null, { timeout: WAIT });
    await byId(page, 'send').click();
    assert(await waitStatus(page, 'completed', 'failed', 'cancelled') === 'failed', `status with a wrong key ${await text(page, 'status')}`);
    assert((await text(page, 'error')).includes('check the API key'), `error: ${await text(page, 'error')}`);
    await page.close();
  });

  await check('a fresh tab (new session) does not have the key', async () => {
    const other = await browser.newContext();
    other.setDefaultTimeout(WAIT);
    const page = await openPage(other);
    assert(await byId(page, 'api-key').inputValue() === '', 'a new session sees the key');
    await other.close();
  });
} else {
  await check('the page lists the models from /v1/models and fetches nothing from elsewhere', async () => {
    const page = await openPage();
    await waitModels(page);
    const models = await byId(page, 'model').locator('option').allTextContents();
    const served = (await api('/v1/models')).data.map((m) => m.id);
    assert(JSON.stringify(models) === JSON.stringify(served), `picker ${models} != /v1/models ${served}`);
    assert(models.includes('sim'), 'sim missing');
    await page.close();
  });

  await check('tokens appear while the stream is still running, and the whole text arrives', async () => {
    const page = await openPage();
    await waitModels(page);
    await fill(page, { seed: 3, maxTokens: 60, tps: 20 });
    await byId(page, 'send').click();
    await waitOutput(page, 1);
    const seen = await text(page, 'output');
    const id = await text(page, 'stream-id');
    assert(id.startsWith('chatcmpl-'), `stream id ${id}`);
    assert(await text(page, 'status') === 'streaming', 'the page did not say streaming');
    assert(await serverStatus(id) === 'running', 'the server had finished the stream before the page showed its first tokens');
    assert(await waitStatus(page, 'completed', 'failed', 'cancelled') === 'completed', `status ${await text(page, 'status')}`);
    const output = await text(page, 'output');
    assert(seen.length < output.length && output.startsWith(seen), 'the early text is not a strict prefix of the final text');
    const expected = await reference(3, 60);
    assert(output === expected, `page ${JSON.stringify(output)} != server ${JSON.stringify(expected)}`);
    const ttft = Number(await text(page, 'ttft'));
    assert(Number.isFinite(ttft) && ttft >= 0, `ttft ${await text(page, 'ttft')}`);
    assert(Number(await text(page, 'tokens-per-second')) > 0, 'no tokens/s');
    await page.waitForFunction(() => document.querySelector('[data-testid=server-status]').textContent !== '', null, { timeout: WAIT });
    assert(await text(page, 'server-status') === 'completed', `the page shows the server status ${await text(page, 'server-status')}`);
    const drawn = await page.evaluate(() => {
      const c = document.querySelector('[data-testid=chart]');
      const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) return true;
      return false;
    });
    assert(drawn, 'the chart is empty');
    await page.close();
  });

  for (const door of ['sse', 'ws']) {
    await check(`drop connection + resume (${door}) gives the text of an uninterrupted run with the same seed`, async () => {
      const page = await openPage();
      await waitModels(page);
      await fill(page, { seed: 7, maxTokens: 200, tps: 0, door });
      await byId(page, 'send').click();
      assert(await waitStatus(page, 'completed', 'failed', 'cancelled') === 'completed', `uninterrupted: ${await text(page, 'status')} ${await text(page, 'error')}`);
      const uninterrupted = await text(page, 'output');
      assert(uninterrupted === await reference(7, 200), 'the uninterrupted run differs from the server\'s text for the seed');

      await fill(page, { seed: 7, maxTokens: 200, tps: 40, door });
      await byId(page, 'send').click();
      await waitOutput(page, 20);
      await byId(page, 'drop').click();
      await page.locator('.resume-mark').waitFor({ state: 'attached', timeout: WAIT });
      assert(await waitStatus(page, 'completed', 'failed', 'cancelled') === 'completed', `resumed: ${await text(page, 'status')} ${await text(page, 'error')}`);
      const resumed = await text(page, 'output');
      assert(resumed === uninterrupted, `resumed ${JSON.stringify(resumed)} != uninterrupted ${JSON.stringify(uninterrupted)}`);
      const mark = await page.evaluate(() => {
        const m = document.querySelector('[data-testid=output] .resume-mark');
        let before = '';
        for (let n = m.previousSibling; n; n = n.previousSibling) before = n.textContent + before;
        return { seq: Number(m.dataset.seq), before: before.length, marks: document.querySelectorAll('.resume-mark').length };
      });
      const lastSeq = Number(await text(page, 'last-seq'));
      assert(mark.marks === 1 && mark.seq > 0 && mark.seq < lastSeq && mark.before > 0 && mark.before < resumed.length,
        `the resume point is not marked mid-stream: ${JSON.stringify(mark)}, last seq ${lastSeq}`);
      await byId(page, 'resume-check').waitFor({ state: 'visible', timeout: WAIT });
      assert(await byId(page, 'resume-check').getAttribute('data-ok') === 'true', `resume check: ${await text(page, 'resume-check')}`);
      if (door === 'sse') {
        await page.screenshot({ path: join(shots, 'playground-resume.png'), fullPage: true });
      }
      await page.close();
    });

    await check(`cancel (${door}) makes the server report the stream cancelled`, async () => {
      const page = await openPage();
      await waitModels(page);
      await fill(page, { seed: 5, maxTokens: 5000, tps: 25, door });
      await byId(page, 'send').click();
      await waitOutput(page, 10);
      const id = await text(page, 'stream-id');
      await byId(page, 'cancel').click();
      assert(await waitStatus(page, 'completed', 'failed', 'cancelled') === 'cancelled', `status ${await text(page, 'status')} ${await text(page, 'error')}`);
      assert(await serverStatus(id) === 'cancelled', `server says ${await serverStatus(id)}`);
      const output = await text(page, 'output');
      assert(output.length > 0 && (await reference(5, 5000)).startsWith(output), 'the text before the cancel is not a prefix of the seed\'s text');
      await page.close();
    });
  }

  await check('a second page watching the stream id, and a third opened with /?watch=<id>, show the same text (fan-out)', async () => {
    const first = await openPage();
    await waitModels(first);
    await fill(first, { seed: 9, maxTokens: 120, tps: 30 });
    await byId(first, 'send').click();
    await waitOutput(first, 1);
    const id = await text(first, 'stream-id');
    const second = await openPage();
    await second.setViewportSize({ width: 390, height: 844 });
    await byId(second, 'watch-id').fill(id);
    await byId(second, 'watch').click();
    await waitOutput(second, 1);
    assert(await serverStatus(id) === 'running', 'the stream ended before the second page followed it live');
    const third = await context.newPage();
    await third.goto(`${origin}/?watch=${encodeURIComponent(id)}`, { timeout: WAIT });
    assert(await waitStatus(first, 'completed', 'failed', 'cancelled') === 'completed', `first: ${await text(first, 'status')}`);
    assert(await waitStatus(second, 'completed', 'failed', 'cancelled') === 'completed', `second: ${await text(second, 'status')} ${await text(second, 'error')}`);
    const a = await text(first, 'output');
    const b = await text(second, 'output');
    assert(a === b && a === await reference(9, 120), `watcher ${JSON.stringify(b)} != generator ${JSON.stringify(a)}`);
    assert(await waitStatus(third, 'completed', 'failed', 'cancelled') === 'completed', `third (/?watch=): ${await text(third, 'status')}`);
    assert(await text(third, 'output') === a, 'the page opened with /?watch= shows other text');
    await third.close();
    assert(await text(second, 'stream-id') === id, 'the watcher does not show the stream id');
    await second.screenshot({ path: join(shots, 'playground-watch-narrow.png'), fullPage: true });
    await first.close();
    await second.close();
  });

  await check('watching an unknown stream id shows the server\'s error and fails, never hangs (both doors)', async () => {
    const page = await openPage();
    for (const [door, says] of [['sse', '404'], ['ws', 'stream_not_found']]) {
      await byId(page, 'door').selectOption(door);
      await byId(page, 'watch-id').fill('chatcmpl-doesnotexist');
      await byId(page, 'watch').click();
      assert(await waitStatus(page, 'completed', 'failed', 'cancelled') === 'failed', `${door}: not failed`);
      assert((await text(page, 'error')).includes(says), `${door}: error ${await text(page, 'error')}`);
    }
    await page.close();
  });

  await check('tool-call fragments render as the call with its arguments (both doors)', async () => {
    const page = await openPage();
    await waitModels(page);
    for (const door of ['sse', 'ws']) {
      await fill(page, { seed: 4, maxTokens: 200, tps: 0, door });
      await page.locator('[data-preset=tools]').click();
      await byId(page, 'send').click();
      assert(await waitStatus(page, 'completed', 'failed', 'cancelled') === 'completed', `${door}: ${await text(page, 'status')} ${await text(page, 'error')}`);
      const call = await byId(page, 'tool-calls').locator('li').first();
      assert((await call.locator('code').textContent()).startsWith('get_weather'), `${door}: name ${await call.locator('code').textContent()}`);
      const args = JSON.parse(await call.locator('pre').textContent());
      assert(typeof args.city === 'string' && ['celsius', 'fahrenheit'].includes(args.unit), `${door}: arguments ${JSON.stringify(args)}`);
    }
    await page.close();
  });

  // No local backend emits reasoning or refusals (sim and tokenflow-tiny write text and tool calls), so this
  // one check replays a recorded vLLM-style stream to the page instead of asking the server.
  await check('reasoning_content renders in its own panel, outside the output', async () => {
    const page = await openPage();
    await waitModels(page);
    const chunk = (delta, finish = null) => `id: ${chunk.seq = (chunk.seq ?? 0) + 1}\ndata: ${JSON.stringify({ id: 'chatcmpl-recorded', object: 'chat.completion.chunk', created: 1, model: 'sim', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    const body = chunk({ role: 'assistant', content: '' }) + chunk({ reasoning_content: 'The user greets; ' }) + chunk({ reasoning_content: 'answer briefly.' })
      + chunk({ content: 'Hello' }) + chunk({ content: ' there' }) + chunk({}, 'stop') + 'data: [DONE]\n\n';
    await page.route('**/v1/chat/completions', (route) => route.fulfill({ status: 200, headers: { 'Content-Type': 'text/event-stream', 'X-Stream-Id': 'chatcmpl-recorded' }, body }));
    await fill(page, { seed: 1, maxTokens: 10, tps: 0 });
    await byId(page, 'send').click();
    assert(await waitStatus(page, 'completed', 'failed', 'cancelled') === 'completed', `status ${await text(page, 'status')}`);
    assert(await text(page, 'reasoning') === 'The user greets; answer briefly.', `reasoning ${await text(page, 'reasoning')}`);
    assert(await byId(page, 'reasoning').isVisible(), 'the reasoning panel is hidden');
    assert(await text(page, 'output') === 'Hello there', `output ${await text(page, 'output')}`);
    await page.close();
  });

  await check('a watch in the request renders its event (both doors)', async () => {
    const page = await openPage();
    await waitModels(page);
    const expected = await reference(2, 100);
    const word = ['Zürich', '東京'].map((w) => [w, expected.indexOf(w)]).filter(([, i]) => i >= 0).sort((x, y) => x[1] - y[1])[0]?.[0];
    assert(word, `no city in the seed's text: ${expected}`);
    for (const door of ['sse', 'ws']) {
      await fill(page, { seed: 2, maxTokens: 100, tps: 0, door, extra: JSON.stringify({ watch: [{ id: 'city', regex: 'Zürich|東京' }] }) });
      await byId(page, 'send').click();
      assert(await waitStatus(page, 'completed', 'failed', 'cancelled') === 'completed', `${door}: ${await text(page, 'status')}`);
      const events = await byId(page, 'watch-events').locator('li').allTextContents();
      assert(events.length === 1 && events[0].startsWith('city fired') && events[0].endsWith(word), `${door}: ${JSON.stringify(events)}, expected a match of ${word}`);
      assert(await text(page, 'output') === expected, `${door}: the watch changed the output`);
    }
    await page.close();
  });

  await check('bad input gets a clear error in the page, not a hang', async () => {
    const page = await openPage();
    await waitModels(page);
    await fill(page, { seed: 1, maxTokens: -5, tps: 0 });
    await byId(page, 'send').click();
    assert(await waitStatus(page, 'completed', 'failed', 'cancelled') === 'failed', 'not failed');
    assert((await text(page, 'error')).startsWith('400'), `error: ${await text(page, 'error')}`);
    await fill(page, { seed: 1, maxTokens: 5, tps: 0, extra: '{not json' });
    await byId(page, 'send').click();
    assert((await text(page, 'error')).includes('not valid JSON'), `error: ${await text(page, 'error')}`);
    await page.close();
  });

  await check('narrow screen: nothing wider than the viewport; every control has an accessible label', async () => {
    const narrow = await browser.newContext({ viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, isMobile: true });
    narrow.setDefaultTimeout(WAIT);
    const page = await openPage(narrow);
    await waitModels(page);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(overflow <= 0, `the page is ${overflow}px wider than a 360px screen`);
    const unlabeled = await page.evaluate(() => [...document.querySelectorAll('input, select, textarea, button')]
      .filter((e) => !(e.labels?.length || e.getAttribute('aria-label') || e.textContent.trim()))
      .map((e) => e.id || e.outerHTML));
    assert(unlabeled.length === 0, `controls without a label: ${unlabeled}`);
    for (const id of ['model', 'prompt', 'max-tokens', 'send', 'cancel', 'drop', 'output', 'stream-id', 'status', 'ttft', 'watch-id', 'watch', 'api-key']) {
      assert(await byId(page, id).count() === 1, `data-testid=${id} missing`);
    }
    await page.screenshot({ path: join(shots, 'playground-narrow.png'), fullPage: true });
    await narrow.close();
  });
}

await check('no request left the server\'s origin and the page logged no errors', async () => {
  assert(foreign.length === 0, `requests elsewhere: ${foreign}`);
  // The deliberate failures above (401 before the key, 400, 404; the refused WebSocket with a key) are the
  // browser's own network messages; anything else is the page's.
  const real = consoleErrors.filter((e) => !e.startsWith('Failed to load resource') && !(apiKey && e.startsWith('WebSocket connection to')));
  assert(real.length === 0, `console errors: ${real.join(' | ')}`);
});

await browser.close();
console.log(`# screenshots in ${shots}`);
summary();
