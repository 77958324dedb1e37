// Spool playground: submit a prompt, watch the reply stream, cancel it, continue it.
// Plain browser JavaScript, no build step. With no API key the stream is an EventSource (it
// reconnects by itself with Last-Event-ID); with a key it is fetch, which can send the
// Authorization header, and reconnects the same way by hand.

const KEY_STORAGE = 'spool.apiKey';
const EVENT_NAMES = ['status', 'delta', 'reset', 'done'];
const MAX_RECONNECT_DELAY_MS = 10_000;
const CANCEL_GRACE_MS = 5000;

const $ = (id) => document.getElementById(id);
const ui = {
  form: $('prompt-form'),
  model: $('model'),
  maxTokens: $('max-tokens'),
  apiKey: $('api-key'),
  prompt: $('prompt'),
  send: $('send'),
  cancel: $('cancel'),
  continue: $('continue'),
  connection: $('connection'),
  status: $('status'),
  jobId: $('job-id'),
  output: $('output'),
  error: $('error'),
  answeredBy: $('answered-by'),
  upstreams: $('upstreams'),
  upstreamRows: $('upstream-rows'),
  spend: $('spend'),
};

/** Text of earlier jobs in a continued chain, the current job's text, and its stream. */
const state = { before: '', text: '', job: null, watcher: null };

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function authHeaders(extra = {}) {
  const key = ui.apiKey.value.trim();
  return key ? { ...extra, authorization: `Bearer ${key}` } : extra;
}

async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: authHeaders(body ? { 'content-type': 'application/json' } : {}),
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new HttpError(response.status, data?.error?.message ?? `HTTP ${response.status}`);
  return data;
}

function showError(message) {
  ui.error.textContent = message ?? '';
  ui.error.hidden = !message;
}

function render() {
  ui.output.textContent = state.before + state.text;
}

function setBusy(busy) {
  document.body.dataset.state = busy ? 'running' : 'idle';
  ui.send.disabled = busy;
  ui.cancel.disabled = !busy;
  if (busy) ui.continue.hidden = true;
}

function setConnection(text) {
  ui.connection.textContent = text;
}

/** A reply was cut off: at max tokens, or it failed or was cancelled after some text. */
function canContinue(job) {
  if (job.status === 'succeeded') return job.result?.finish_reason === 'length';
  return (job.status === 'failed' || job.status === 'cancelled') && Boolean(job.partial?.content);
}

/** Which upstream (and model, when a fallback) answered: the job's last upstream call. */
function answeredBy(job) {
  const last = job.status === 'succeeded' ? job.attempt_log?.at(-1) : undefined;
  return last ? `by ${last.upstream}${last.model !== job.model ? ` (${last.model})` : ''}` : '';
}

function describe(job) {
  if (job.status === 'succeeded') return `succeeded · ${job.result.finish_reason}`;
  if (job.error) return `${job.status}: ${job.error.message}`;
  return job.status;
}

function onEvent(name, data) {
  if (name === 'status') {
    ui.status.textContent = data.attempt > 1 ? `${data.status} (attempt ${data.attempt})` : data.status;
  } else if (name === 'delta') {
    state.text += data.content;
    render();
  } else if (name === 'reset') {
    state.text = '';
    render();
  } else if (name === 'done') {
    finish(data);
  }
}

/** Dollars as people read them: cents once there are some, else the few digits that say how little. */
function formatUsd(value) {
  if (value >= 0.01 || value === 0) return `$${value.toFixed(2)}`;
  return `$${value.toFixed(8).replace(/0+$/, '')}`;
}

/** The tenant's spend this month and its budget, from /v1/usage; hidden when it cannot be read. */
async function loadSpend() {
  try {
    const usage = await api('GET', '/v1/usage');
    const budget = usage.budget_usd === null ? '(no budget)' : `of a ${formatUsd(usage.budget_usd)} budget`;
    ui.spend.textContent = `This month: ${formatUsd(usage.spend_usd)} spent ${budget}`;
    ui.spend.dataset.spent = String(usage.budget_usd !== null && usage.spend_usd >= usage.budget_usd);
    ui.spend.hidden = false;
  } catch {
    ui.spend.hidden = true;
  }
}

function finish(job) {
  void loadSpend();
  state.watcher?.close();
  state.watcher = null;
  state.job = job;
  setBusy(false);
  setConnection('');
  ui.status.textContent = describe(job);
  ui.answeredBy.textContent = answeredBy(job);
  ui.continue.hidden = !canContinue(job);
  document.body.dataset.state = 'done';
}

/** Splits a text/event-stream into events: `{ id, event, data }`. */
function createSseParser(onMessage) {
  let buffer = '';
  let message = { id: '', event: '', data: [] };
  return (chunk) => {
    buffer += chunk;
    const lines = buffer.split(/\r\n|\r|\n/);
    buffer = lines.pop();
    for (const line of lines) {
      if (line === '') {
        if (message.data.length) onMessage({ id: message.id, event: message.event || 'message', data: message.data.join('\n') });
        message = { id: '', event: '', data: [] };
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'id') message.id = value;
      else if (field === 'event') message.event = value;
      else if (field === 'data') message.data.push(value);
    }
  };
}

/**
 * Follows a job's events; every event is taken once, in order, by its id. `handle(name, data)`
 * gets them; the watcher ends after `done` or `close()`.
 */
function watchJob(jobId, handle) {
  const url = `/v1/jobs/${jobId}/events`;
  let lastId = 0;
  let closed = false;
  const take = (id, name, data) => {
    if (closed || !Number.isFinite(id) || id <= lastId) return;
    lastId = id;
    if (name === 'done') closed = true;
    handle(name, JSON.parse(data));
  };

  if (!ui.apiKey.value.trim()) {
    // EventSource resends Last-Event-ID on its own after a drop; if it gives up (an HTTP error
    // while reconnecting) a new one resumes with ?after=.
    let source;
    let retry;
    let failures = 0;
    const open = () => {
      source = new EventSource(lastId ? `${url}?after=${lastId}` : url);
      source.onopen = () => {
        failures = 0;
        setConnection('live');
      };
      for (const name of EVENT_NAMES) {
        source.addEventListener(name, (event) => {
          take(Number(event.lastEventId), name, event.data);
          if (closed) source.close();
        });
      }
      source.onerror = () => {
        if (closed) return;
        setConnection('reconnecting…');
        if (source.readyState === EventSource.CLOSED) {
          failures += 1;
          retry = setTimeout(open, Math.min(1000 * 2 ** (failures - 1), MAX_RECONNECT_DELAY_MS));
        }
      };
    };
    open();
    return {
      close() {
        closed = true;
        clearTimeout(retry);
        source?.close();
      },
    };
  }

  const controller = new AbortController();
  (async () => {
    let failures = 0;
    while (!closed) {
      try {
        const headers = authHeaders({ accept: 'text/event-stream' });
        if (lastId) headers['last-event-id'] = String(lastId);
        const response = await fetch(url, { headers, cache: 'no-store', signal: controller.signal });
        if (response.status >= 400 && response.status < 500) {
          const body = await response.json().catch(() => null);
          throw new HttpError(response.status, body?.error?.message ?? `HTTP ${response.status}`);
        }
        if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
        failures = 0;
        setConnection('live');
        const parse = createSseParser((message) => take(Number(message.id), message.event, message.data));
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        while (!closed) {
          const { value, done } = await reader.read();
          if (done) break;
          parse(value);
        }
        if (closed) await reader.cancel().catch(() => undefined);
      } catch (error) {
        if (closed || controller.signal.aborted) return;
        if (error instanceof HttpError) {
          showError(error.message);
          finishWatchingWithError();
          return;
        }
      }
      if (closed) return;
      // The stream broke before `done`: resume after the last event seen.
      setConnection('reconnecting…');
      failures += 1;
      await sleep(Math.min(500 * 2 ** (failures - 1), MAX_RECONNECT_DELAY_MS));
    }
  })();
  return {
    close() {
      closed = true;
      controller.abort();
    },
  };
}

function finishWatchingWithError() {
  state.watcher = null;
  setBusy(false);
  setConnection('');
}

function startJob(job) {
  state.job = job;
  state.text = '';
  document.body.dataset.jobId = job.id;
  ui.jobId.textContent = job.id;
  ui.status.textContent = job.status;
  ui.answeredBy.textContent = '';
  setBusy(true);
  render();
  state.watcher?.close();
  state.watcher = watchJob(job.id, onEvent);
}

async function send(event) {
  event.preventDefault();
  showError('');
  const prompt = ui.prompt.value.trim();
  if (!prompt) return;
  const body = { messages: [{ role: 'user', content: prompt }] };
  if (ui.model.value) body.model = ui.model.value;
  const maxTokens = Number.parseInt(ui.maxTokens.value, 10);
  if (Number.isInteger(maxTokens) && maxTokens > 0) body.max_tokens = maxTokens;
  ui.send.disabled = true;
  try {
    state.before = '';
    startJob(await api('POST', '/v1/jobs', body));
  } catch (error) {
    showError(error.message);
    setBusy(false);
  }
}

async function cancel() {
  if (!state.job) return;
  ui.cancel.disabled = true;
  try {
    const job = await api('POST', `/v1/jobs/${state.job.id}/cancel`);
    // The stream brings `done` with the last deltas; should it be stuck reconnecting, the
    // cancelled job itself says what was streamed.
    await sleep(CANCEL_GRACE_MS);
    if (state.job?.id === job.id && document.body.dataset.state === 'running') {
      state.text = job.partial?.content ?? state.text;
      render();
      finish(job);
    }
  } catch (error) {
    if (!(error instanceof HttpError && error.status === 409)) showError(error.message);
  }
}

async function continueJob() {
  if (!state.job) return;
  showError('');
  ui.continue.hidden = true;
  try {
    const next = await api('POST', `/v1/jobs/${state.job.id}/continue`);
    state.before += state.text;
    startJob(next);
  } catch (error) {
    showError(error.message);
    ui.continue.hidden = false;
  }
}

async function loadModels() {
  try {
    const list = await api('GET', '/v1/models');
    const ids = list.data.map((model) => model.id).sort();
    const chosen = ui.model.value;
    ui.model.replaceChildren(new Option('server default', ''), ...ids.map((id) => new Option(id, id)));
    if (ids.includes(chosen)) ui.model.value = chosen;
    showError('');
  } catch (error) {
    showError(error instanceof HttpError && error.status === 401 ? 'This server needs an API key: enter one above.' : `Models: ${error.message}`);
  }
}

const UPSTREAMS_EVERY_MS = 2000;

/**
 * Each upstream's headroom, from `GET /admin/upstreams`, while the page is open: shown only to an
 * admin (the cookie `/admin/queues?key=...` sets); anyone else never sees the section.
 */
async function showUpstreams() {
  const response = await fetch('/admin/upstreams').catch(() => null);
  if (!response?.ok) {
    ui.upstreams.hidden = true;
    return response?.status === 401 || response?.status === 404 ? 'stop' : 'retry';
  }
  const { data } = await response.json();
  const cell = (value) => (value === null || value === undefined ? '—' : String(value));
  const until = (seconds) => (seconds ? `${Math.max(0, Math.round(seconds - Date.now() / 1000))} s` : '');
  ui.upstreamRows.replaceChildren(
    ...data.map((upstream) => {
      const row = document.createElement('tr');
      row.dataset.state = upstream.state;
      const state = `${upstream.state} ${until(upstream.paused_until ?? upstream.out_until)}`.trim();
      for (const value of [upstream.name, state, upstream.in_flight, upstream.ratelimit_remaining_requests, upstream.ratelimit_remaining_tokens]) {
        const td = document.createElement('td');
        td.textContent = cell(value);
        row.append(td);
      }
      return row;
    }),
  );
  ui.upstreams.hidden = false;
  return 'retry';
}

async function watchUpstreams() {
  while ((await showUpstreams()) !== 'stop') await sleep(UPSTREAMS_EVERY_MS);
}

ui.apiKey.value = localStorage.getItem(KEY_STORAGE) ?? '';
ui.apiKey.addEventListener('change', () => {
  const key = ui.apiKey.value.trim();
  if (key) localStorage.setItem(KEY_STORAGE, key);
  else localStorage.removeItem(KEY_STORAGE);
  void loadModels();
  void loadSpend();
});
ui.form.addEventListener('submit', send);
ui.prompt.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) ui.form.requestSubmit();
});
ui.cancel.addEventListener('click', cancel);
ui.continue.addEventListener('click', continueJob);
void loadModels();
void watchUpstreams();
void loadSpend();
