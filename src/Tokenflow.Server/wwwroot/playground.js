// Tokenflow playground: one stream at a time over the SSE door (fetch + a streaming SSE parser) or the
// WebSocket door, with resume from the last event id, server-side cancel and following any stream id.
// Rendering is batched per animation frame: tokens are collected and appended as one text node per frame.
'use strict';

(() => {
  const el = (id) => document.getElementById(id);
  const ui = {
    form: el('request-form'), model: el('model'), door: el('door'), prompt: el('prompt'),
    maxTokens: el('max-tokens'), seed: el('seed'), simTps: el('sim-tps'), extra: el('extra'),
    dropDelay: el('drop-delay'), apiKey: el('api-key'), send: el('send'), cancel: el('cancel'), drop: el('drop'),
    watchForm: el('watch-form'), watchId: el('watch-id'), watch: el('watch'),
    status: el('status'), ttft: el('ttft'), tps: el('tps'), tokens: el('tokens'), lastSeq: el('last-seq'),
    serverStatus: el('server-status'), streamId: el('stream-id'), copyId: el('copy-id'),
    chart: el('chart'), chartScale: el('chart-scale'), error: el('error'), resumeCheck: el('resume-check'),
    reasoningBox: el('reasoning-box'), reasoning: el('reasoning'), output: el('output'),
    toolsBox: el('tools-box'), toolCalls: el('tool-calls'), watchesBox: el('watches-box'),
    watchEvents: el('watch-events'), usage: el('usage'),
  };

  const KEY_STORAGE = 'tokenflow.playground.apiKey';
  const PRESETS = {
    tools: {
      tools: [{
        type: 'function',
        function: {
          name: 'get_weather',
          description: 'Current weather for a city.',
          parameters: {
            type: 'object',
            properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } },
            required: ['city', 'unit'],
          },
        },
      }],
      tool_choice: 'required',
    },
    watch: { watch: [{ id: 'city', regex: 'Zürich|東京' }] },
    clear: null,
  };

  // ---- API key: session storage only, sent as a bearer token ----
  try { ui.apiKey.value = sessionStorage.getItem(KEY_STORAGE) ?? ''; } catch { /* storage disabled */ }
  ui.apiKey.addEventListener('input', () => {
    try { sessionStorage.setItem(KEY_STORAGE, ui.apiKey.value); } catch { /* storage disabled */ }
  });
  ui.apiKey.addEventListener('change', () => loadModels());

  function authHeaders(extra = {}) {
    const key = ui.apiKey.value.trim();
    return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
  }

  async function errorMessage(response) {
    const text = await response.text().catch(() => '');
    try {
      const body = JSON.parse(text);
      if (body?.error?.message) return `${response.status}: ${body.error.message}`;
    } catch { /* not JSON */ }
    return `${response.status} ${response.statusText}${text ? `: ${text.slice(0, 200)}` : ''}`;
  }

  // ---- models ----
  // Each listing supersedes the one before: the answer to an older request (say, the keyless one sent on
  // load, answered 401 after the key was entered) must not overwrite what a newer one showed.
  let modelsRequest = 0;
  async function loadModels() {
    const previous = ui.model.value;
    const mine = ++modelsRequest;
    try {
      const response = await fetch('/v1/models', { headers: authHeaders() });
      if (mine !== modelsRequest) return;
      if (!response.ok) {
        const message = await errorMessage(response);
        if (mine !== modelsRequest) return;
        showError(`Could not list models — ${message}${response.status === 401 ? ' (enter the API key)' : ''}`);
        return;
      }
      const { data } = await response.json();
      if (mine !== modelsRequest) return;
      const ids = data.map((m) => m.id);
      ui.model.replaceChildren(...ids.map((id) => new Option(id, id)));
      ui.model.value = ids.includes(previous) ? previous : (ids.includes('sim') ? 'sim' : ids[0] ?? '');
      hideError();
      ui.model.dataset.loaded = 'true';
    } catch (err) {
      if (mine === modelsRequest) showError(`Could not list models: ${err.message}`);
    }
  }

  // ---- one run (a generation we started, or a stream we follow) ----
  let run = null;

  function newRun(kind) {
    return {
      kind, // 'generate' | 'follow'
      door: ui.door.value,
      streamId: null,
      lastSeq: 0,
      repeats: 0,
      holes: 0,
      resumes: [],
      started: performance.now(),
      firstToken: null,
      lastToken: null,
      tokens: 0,
      bars: [], // { ms, kind: 'ttft' | 'gap' | 'resume' }
      afterResume: false,
      text: '',
      pending: '',
      reasoningPending: '',
      tools: new Map(), // index -> { id, name, arguments, node }
      finish: null,
      usage: null,
      error: null,
      state: 'streaming',
      ended: false,
      abort: null, // SSE: the AbortController of the current connection
      socket: null, // WebSocket door: the current socket
      dropping: false,
      cancelRequested: false,
      failed: false,
      lostReason: null,
      frame: 0,
      dirty: false,
    };
  }

  function resetView() {
    ui.output.replaceChildren();
    ui.reasoning.replaceChildren();
    ui.toolCalls.replaceChildren();
    ui.watchEvents.replaceChildren();
    ui.reasoningBox.hidden = ui.toolsBox.hidden = ui.watchesBox.hidden = true;
    ui.resumeCheck.hidden = true;
    ui.usage.textContent = '';
    ui.serverStatus.textContent = '';
    ui.streamId.textContent = '';
    ui.ttft.textContent = '';
    ui.tps.textContent = '';
    hideError();
  }

  function setState(r, state) {
    r.state = state;
    ui.status.textContent = state;
    ui.status.dataset.state = state;
    const live = state === 'streaming';
    ui.cancel.disabled = !live;
    ui.drop.disabled = !live;
    ui.send.disabled = live;
    ui.watch.disabled = live;
    ui.output.setAttribute('aria-busy', String(live));
  }

  function setStreamId(r, id) {
    if (!id || r.streamId === id) return;
    r.streamId = id;
    ui.streamId.textContent = id;
    ui.copyId.disabled = false;
    if (r.cancelRequested) cancelRun(r);
  }

  // ---- event handling shared by both doors ----
  function onChunk(r, seq, chunk) {
    if (r !== run || r.ended) return;
    noteSeq(r, seq);
    if (chunk.id) setStreamId(r, chunk.id);
    const watch = chunk.tokenflow?.watch;
    if (watch) addWatchEvent(watch);
    if (chunk.usage) r.usage = chunk.usage;
    const choice = chunk.choices?.[0];
    if (choice) {
      const delta = choice.delta ?? {};
      let token = false;
      if (typeof delta.content === 'string' && delta.content.length > 0) {
        r.text += delta.content;
        r.pending += delta.content;
        token = true;
      }
      if (typeof delta.reasoning_content === 'string' && delta.reasoning_content.length > 0) {
        r.reasoningPending += delta.reasoning_content;
        token = true;
      }
      if (typeof delta.refusal === 'string' && delta.refusal.length > 0) {
        r.pending += delta.refusal;
        r.text += delta.refusal;
        token = true;
      }
      if (Array.isArray(delta.tool_calls)) {
        for (const call of delta.tool_calls) addToolFragment(r, call);
        token = true;
      }
      if (token) countToken(r);
      if (choice.finish_reason) r.finish = choice.finish_reason;
    }
    schedule(r);
  }

  function noteSeq(r, seq) {
    if (seq === null || seq === undefined) return;
    // Every event carries its seq: a seq at or below the last one is a repeat, a jump a hole.
    if (seq <= r.lastSeq) r.repeats++;
    else if (seq !== r.lastSeq + 1) r.holes++;
    r.lastSeq = Math.max(r.lastSeq, seq);
  }

  function countToken(r) {
    const now = performance.now();
    if (r.firstToken === null) {
      r.firstToken = now;
      r.bars.push({ ms: now - r.started, kind: 'ttft' });
    } else {
      r.bars.push({ ms: now - r.lastToken, kind: r.afterResume ? 'resume' : 'gap' });
    }
    r.afterResume = false;
    r.lastToken = now;
    r.tokens++;
  }

  function addToolFragment(r, call) {
    const index = call.index ?? 0;
    let entry = r.tools.get(index);
    if (!entry) {
      const item = document.createElement('li');
      const name = document.createElement('code');
      const args = document.createElement('pre');
      item.append(name, args);
      ui.toolCalls.append(item);
      ui.toolsBox.hidden = false;
      entry = { id: '', name: '', arguments: '', nameNode: name, argsNode: args, dirty: true };
      r.tools.set(index, entry);
    }
    if (call.id) entry.id = call.id;
    if (call.function?.name) entry.name += call.function.name;
    if (call.function?.arguments) entry.arguments += call.function.arguments;
    entry.dirty = true;
  }

  function addWatchEvent(watch) {
    const item = document.createElement('li');
    const match = typeof watch.match === 'string' ? watch.match : JSON.stringify(watch.match);
    item.textContent = `${watch.watch_id} fired at event ${watch.seq}: ${match}`;
    ui.watchEvents.append(item);
    ui.watchesBox.hidden = false;
  }

  // ---- rendering, batched per animation frame ----
  function schedule(r) {
    r.dirty = true;
    if (!r.frame) r.frame = requestAnimationFrame(() => { r.frame = 0; flush(r); });
  }

  function flush(r) {
    if (r !== run || !r.dirty) return;
    r.dirty = false;
    if (r.pending) {
      ui.output.append(document.createTextNode(r.pending));
      r.pending = '';
      ui.output.scrollTop = ui.output.scrollHeight;
    }
    if (r.reasoningPending) {
      ui.reasoning.append(document.createTextNode(r.reasoningPending));
      ui.reasoningBox.hidden = false;
      r.reasoningPending = '';
    }
    for (const entry of r.tools.values()) {
      if (!entry.dirty) continue;
      entry.dirty = false;
      entry.nameNode.textContent = `${entry.name || '…'}${entry.id ? `  (${entry.id})` : ''}`;
      entry.argsNode.textContent = entry.arguments;
    }
    ui.tokens.textContent = String(r.tokens);
    ui.lastSeq.textContent = String(r.lastSeq);
    if (r.firstToken !== null) ui.ttft.textContent = String(Math.round(r.firstToken - r.started));
    if (r.tokens > 1 && r.lastToken > r.firstToken) {
      ui.tps.textContent = ((r.tokens - 1) / ((r.lastToken - r.firstToken) / 1000)).toFixed(1);
    }
    if (r.usage) {
      ui.usage.textContent = `Usage: ${r.usage.prompt_tokens} prompt + ${r.usage.completion_tokens} completion tokens.`;
    }
    drawChart(r.bars);
  }

  function flushNow(r) {
    if (r.frame) { cancelAnimationFrame(r.frame); r.frame = 0; }
    r.dirty = true;
    flush(r);
  }

  function drawChart(bars) {
    const canvas = ui.chart;
    const ratio = window.devicePixelRatio || 1;
    const width = Math.max(1, Math.round(canvas.clientWidth * ratio));
    const height = Math.max(1, Math.round(canvas.clientHeight * ratio));
    if (canvas.width !== width || canvas.height !== height) { canvas.width = width; canvas.height = height; }
    const ctx = canvas.getContext('2d');
    ctx.clearRect(0, 0, width, height);
    if (bars.length === 0) { ui.chartScale.textContent = ''; return; }
    const barWidth = Math.max(2 * ratio, Math.min(12 * ratio, width / bars.length));
    const visible = bars.slice(-Math.floor(width / barWidth));
    // Scale to the steady gaps on screen; a slow first token or the wait across a resume is clipped at the top.
    const gaps = visible.filter((b) => b.kind === 'gap').map((b) => b.ms);
    const top = Math.max(1, gaps.length ? Math.max(...gaps) * 1.25 : Math.max(...visible.map((b) => b.ms)));
    const style = getComputedStyle(document.documentElement);
    const colours = { ttft: style.getPropertyValue('--ttft'), gap: style.getPropertyValue('--gap'), resume: style.getPropertyValue('--resume') };
    visible.forEach((bar, i) => {
      const h = Math.max(ratio, Math.min(1, bar.ms / top) * (height - 4 * ratio));
      ctx.fillStyle = colours[bar.kind];
      ctx.fillRect(i * barWidth, height - h, Math.max(1, barWidth - ratio), h);
    });
    ui.chartScale.textContent = `top = ${top.toFixed(top < 10 ? 1 : 0)} ms`;
  }

  // ---- ending a run ----
  async function finishRun(r, state) {
    if (r.ended) return;
    r.ended = true;
    flushNow(r);
    ui.resumeCheck.hidden = true;
    if (r.error) showError(r.error);
    setState(r, state);
    if (r.streamId) {
      await reportServerStatus(r);
      if (r.resumes.length > 0) await verifyResume(r);
    }
  }

  async function reportServerStatus(r) {
    try {
      const response = await fetch(`/v1/streams/${encodeURIComponent(r.streamId)}`, { headers: authHeaders() });
      if (r !== run) return;
      ui.serverStatus.textContent = response.ok ? (await response.json()).status : `HTTP ${response.status}`;
    } catch (err) {
      ui.serverStatus.textContent = err.message;
    }
  }

  // After a drop: read the whole log again from event 0 and compare it with what the page assembled.
  async function verifyResume(r) {
    let logText = '';
    let events = 0;
    try {
      const response = await fetch(`/v1/streams/${encodeURIComponent(r.streamId)}/events?after=0`, { headers: authHeaders() });
      if (!response.ok) throw new Error(await errorMessage(response));
      for await (const event of sseEvents(response)) {
        if (event.data === '[DONE]') break;
        if (event.event === 'error') continue;
        events++;
        const delta = JSON.parse(event.data).choices?.[0]?.delta;
        logText += (delta?.content ?? '') + (delta?.refusal ?? '');
      }
    } catch (err) {
      if (r === run) showResumeCheck(false, `Could not read the log back to check the resume: ${err.message}`);
      return;
    }
    if (r !== run) return;
    const points = r.resumes.map((s) => `event ${s}`).join(', ');
    const same = logText === r.text && r.repeats === 0;
    showResumeCheck(same, same
      ? `Resumed ${r.resumes.length}× (after ${points}): no event repeated, none missing — the text is identical to the server's log (${events} events).`
      : `Resumed after ${points}, but the text differs from the server's log (${r.repeats} repeated events, ${r.holes} gaps in seq).`);
  }

  function showResumeCheck(ok, message) {
    ui.resumeCheck.textContent = message;
    ui.resumeCheck.dataset.ok = String(ok);
    ui.resumeCheck.hidden = false;
  }

  function showError(message) {
    ui.error.textContent = message;
    ui.error.hidden = false;
  }

  function hideError() {
    ui.error.hidden = true;
    ui.error.textContent = '';
  }

  // ---- the SSE door ----
  async function* sseEvents(response) {
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let id = null;
    let type = 'message';
    let data = [];
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value;
        let newline;
        while ((newline = buffer.indexOf('\n')) >= 0) {
          let line = buffer.slice(0, newline);
          buffer = buffer.slice(newline + 1);
          if (line.endsWith('\r')) line = line.slice(0, -1);
          if (line === '') {
            if (data.length > 0) yield { id, event: type, data: data.join('\n') };
            id = null; type = 'message'; data = [];
            continue;
          }
          if (line.startsWith(':')) continue; // heartbeat comment
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          let value = colon < 0 ? '' : line.slice(colon + 1);
          if (value.startsWith(' ')) value = value.slice(1);
          if (field === 'data') data.push(value);
          else if (field === 'id') id = value;
          else if (field === 'event') type = value;
        }
      }
    } finally {
      reader.cancel().catch(() => {});
    }
  }

  // Reads one SSE response into the run. Returns 'done', 'dropped' (we aborted it) or 'lost' (it ended early).
  async function readSse(r, response) {
    let slice = performance.now();
    try {
      for await (const event of sseEvents(response)) {
        // A fast stream can arrive faster than frames: give the browser a turn to paint now and then,
        // otherwise reads that are already buffered resolve back to back and the page freezes until the end.
        if (performance.now() - slice > 30) {
          await new Promise((done) => setTimeout(done, 0));
          slice = performance.now();
        }
        if (event.data === '[DONE]') return 'done';
        if (event.event === 'error') {
          const body = JSON.parse(event.data);
          r.error = `The stream failed: ${body.error?.message ?? event.data}`;
          r.failed = true;
          continue;
        }
        onChunk(r, event.id !== null ? Number(event.id) : null, JSON.parse(event.data));
      }
      return r.failed ? 'done' : 'lost';
    } catch (err) {
      if (r.dropping || err.name === 'AbortError') return 'dropped';
      r.lostReason = err.message;
      return 'lost';
    }
  }

  async function runSse(r, openFirst) {
    let opened = false;
    let attempt = 0;
    for (;;) {
      r.abort = new AbortController();
      let response;
      try {
        response = opened ? await resumeSse(r, r.abort.signal) : await openFirst(r.abort.signal);
      } catch (err) {
        if (r.dropping || err.name === 'AbortError') { await afterDrop(r); continue; }
        if (++attempt > 3 || !opened) { r.error = `Connection failed: ${err.message}`; return finishRun(r, 'failed'); }
        continue;
      }
      if (!response.ok) {
        r.error = await errorMessage(response);
        return finishRun(r, 'failed');
      }
      opened = true;
      setStreamId(r, response.headers.get('X-Stream-Id'));
      const outcome = await readSse(r, response);
      if (outcome === 'done') return finishRun(r, endState(r));
      if (outcome === 'dropped') { await afterDrop(r); attempt = 0; continue; }
      // The connection ended without [DONE]: resume, as a client on a flaky network would.
      if (++attempt > 3 || !r.streamId) { r.error = `The connection was lost${r.lostReason ? `: ${r.lostReason}` : ''}.`; return finishRun(r, 'failed'); }
      markResume(r);
    }
  }

  function resumeSse(r, signal) {
    return fetch(`/v1/streams/${encodeURIComponent(r.streamId)}/events`, {
      headers: authHeaders({ 'Last-Event-ID': String(r.lastSeq), Accept: 'text/event-stream' }),
      signal,
    });
  }

  function endState(r) {
    if (r.failed) return 'failed';
    return r.finish === 'cancelled' ? 'cancelled' : 'completed';
  }

  // ---- the WebSocket door ----
  function socketUrl() {
    return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/v1/ws`;
  }

  // Browsers cannot set Authorization on a WebSocket: the key travels as a subprotocol,
  // tokenflow.bearer.<base64url(key)>, next to tokenflow.v1 (the one the server selects).
  function socketProtocols() {
    const key = ui.apiKey.value.trim();
    if (!key) return undefined;
    const b64 = btoa(String.fromCharCode(...new TextEncoder().encode(key)));
    return ['tokenflow.v1', `tokenflow.bearer.${b64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')}`];
  }

  function runSocket(r, firstMessage) {
    return new Promise((resolve) => {
      const connect = (message) => {
        const socket = new WebSocket(socketUrl(), socketProtocols());
        r.socket = socket;
        let opened = false;
        socket.onopen = () => { opened = true; socket.send(JSON.stringify(message())); };
        socket.onmessage = (e) => {
          if (r !== run || r.ended) return;
          const msg = JSON.parse(e.data);
          switch (msg.type) {
            case 'started': setStreamId(r, msg.stream_id); break;
            case 'event': onChunk(r, msg.seq, msg.data); break;
            case 'watch': noteSeq(r, msg.seq); addWatchEvent(msg.watch); schedule(r); break;
            case 'error':
              r.error = `${msg.error?.message ?? 'error'}${msg.error?.code ? ` (${msg.error.code})` : ''}`;
              // An error answering our generate/subscribe (it carries our tag) ends the run; one without a tag is
              // the stream's own terminal error, and its 'done' follows.
              if (msg.id || !msg.stream_id) { socket.close(); finishRun(r, 'failed').then(resolve); }
              else r.failed = true;
              break;
            case 'done':
              socket.close();
              finishRun(r, msg.status === 'completed' && r.failed ? 'failed' : msg.status).then(resolve);
              break;
            default: break;
          }
        };
        socket.onclose = async () => {
          if (r.ended || r.socket !== socket) return;
          if (r.dropping) {
            await afterDrop(r);
            connect(() => ({ type: 'subscribe', id: 'resume', stream_id: r.streamId, after: r.lastSeq }));
            return;
          }
          if (!opened && ui.apiKey.value.trim()) {
            r.error = 'The WebSocket was refused: check the API key.';
          } else {
            r.error = r.error ?? 'The WebSocket closed before the stream ended.';
          }
          finishRun(r, 'failed').then(resolve);
        };
      };
      connect(firstMessage);
    });
  }

  // ---- drop connection and resume ----
  function markResume(r) {
    flushNow(r);
    const mark = document.createElement('span');
    mark.className = 'resume-mark';
    mark.dataset.seq = String(r.lastSeq);
    mark.title = `Connection dropped; resumed with Last-Event-ID: ${r.lastSeq}`;
    ui.output.append(mark);
    r.resumes.push(r.lastSeq);
    r.afterResume = true;
  }

  async function afterDrop(r) {
    markResume(r);
    const delay = Math.max(0, Number(ui.dropDelay.value) || 0);
    if (delay > 0) await new Promise((done) => setTimeout(done, delay));
    r.dropping = false;
  }

  function dropConnection() {
    const r = run;
    if (!r || r.ended || r.dropping || !r.streamId) return;
    r.dropping = true;
    if (r.door === 'ws') r.socket?.close();
    else r.abort?.abort();
  }

  // ---- cancel ----
  async function cancelRun(r) {
    if (!r || r.ended) return;
    r.cancelRequested = true;
    if (!r.streamId) return; // sent when the id arrives
    if (r.door === 'ws' && r.socket?.readyState === WebSocket.OPEN) {
      r.socket.send(JSON.stringify({ type: 'cancel', stream_id: r.streamId }));
      return;
    }
    try {
      const response = await fetch(`/v1/streams/${encodeURIComponent(r.streamId)}/cancel`, { method: 'POST', headers: authHeaders() });
      if (!response.ok) showError(`Cancel failed — ${await errorMessage(response)}`);
    } catch (err) {
      showError(`Cancel failed: ${err.message}`);
    }
  }

  // ---- starting ----
  function buildRequest() {
    const model = ui.model.value;
    const body = {
      model,
      messages: [{ role: 'user', content: ui.prompt.value }],
      stream: true,
      stream_options: { include_usage: true },
    };
    const maxTokens = parseInt(ui.maxTokens.value, 10);
    if (Number.isFinite(maxTokens)) body.max_tokens = maxTokens;
    const seed = parseInt(ui.seed.value, 10);
    if (Number.isFinite(seed)) body.seed = seed;
    const tps = Number(ui.simTps.value);
    if (model === 'sim' && Number.isFinite(tps) && tps > 0) body.sim_tokens_per_second = tps;
    const extra = ui.extra.value.trim();
    if (extra) {
      let fields;
      try { fields = JSON.parse(extra); } catch (err) { throw new Error(`The extra fields are not valid JSON: ${err.message}`); }
      if (fields === null || typeof fields !== 'object' || Array.isArray(fields)) throw new Error('The extra fields must be a JSON object.');
      Object.assign(body, fields);
    }
    return body;
  }

  function start(kind, makeRun) {
    if (run && !run.ended) return;
    let body = null;
    if (kind === 'generate') {
      try { body = buildRequest(); } catch (err) { showError(err.message); return; }
    }
    resetView();
    const r = newRun(kind);
    run = r;
    setState(r, 'streaming');
    drawChart([]);
    makeRun(r, body).catch((err) => {
      r.error = err.message;
      finishRun(r, 'failed');
    });
  }

  ui.form.addEventListener('submit', (e) => {
    e.preventDefault();
    start('generate', (r, body) => (r.door === 'ws'
      ? runSocket(r, () => ({ type: 'generate', id: 'playground', request: body }))
      : runSse(r, (signal) => fetch('/v1/chat/completions', {
        method: 'POST',
        headers: authHeaders({ 'Content-Type': 'application/json', Accept: 'text/event-stream' }),
        body: JSON.stringify(body),
        signal,
      }))));
  });

  ui.watchForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const id = ui.watchId.value.trim();
    if (!id) { showError('Enter a stream id to watch.'); return; }
    start('follow', (r) => {
      setStreamId(r, id);
      return r.door === 'ws'
        ? runSocket(r, () => ({ type: 'subscribe', id: 'watch', stream_id: id, after: 0 }))
        : runSse(r, (signal) => fetch(`/v1/streams/${encodeURIComponent(id)}/events?after=0`, {
          headers: authHeaders({ Accept: 'text/event-stream' }),
          signal,
        }));
    });
  });

  ui.cancel.addEventListener('click', () => cancelRun(run));
  ui.drop.addEventListener('click', dropConnection);
  ui.copyId.addEventListener('click', () => {
    if (run?.streamId) navigator.clipboard?.writeText(run.streamId).catch(() => {});
  });
  for (const button of document.querySelectorAll('[data-preset]')) {
    button.addEventListener('click', () => {
      const preset = PRESETS[button.dataset.preset];
      ui.extra.value = preset ? JSON.stringify(preset, null, 2) : '';
    });
  }
  window.addEventListener('resize', () => { if (run) drawChart(run.bars); });

  loadModels();
  // /?watch=<stream id>: a link that opens the page already following that stream.
  const initial = new URLSearchParams(location.search).get('watch');
  if (initial) {
    ui.watchId.value = initial;
    ui.watchForm.requestSubmit();
  }
})();
