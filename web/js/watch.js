// Watch: a live tail of the changes under a prefix, from the REST API's Server-Sent Events. Signed out, the
// browser's EventSource does it and, on a dropped connection, reconnects by itself sending Last-Event-ID (the last
// revision seen), so the server resumes after it: no change is lost or shown twice. EventSource cannot send an
// Authorization header, so when signed in the same stream is read with fetch and the reconnect is done here the
// same way.
import { h, token, statusLine, say } from './api.js';

const MAX_ROWS = 500;
let source = null; // {close()}
let rows, state, button, input, lastId = null;

export function init(section) {
  input = h('input', { id: 'watch-prefix', name: 'prefix', type: 'text', autocomplete: 'off', spellcheck: 'false' });
  section.append(
    h('h2', { id: 'h-watch' }, 'Watch'),
    h('form', { class: 'row', onsubmit: (e) => { e.preventDefault(); source ? stop() : start(input.value); } },
      h('label', { for: 'watch-prefix' }, 'Prefix (empty: every key)'), input,
      button = h('button', { type: 'submit', id: 'watch-toggle' }, 'Start'),
      h('button', { type: 'button', onclick: () => rows.replaceChildren() }, 'Clear')),
    state = statusLine('watch-status'),
    h('div', { class: 'table-wrap' },
      h('table', { class: 'cards tail' },
        h('caption', {}, 'Changes, newest first'),
        h('thead', {}, h('tr', {}, ['Revision', 'Type', 'Key', 'Value', 'Seen'].map((t) => h('th', { scope: 'col' }, t)))),
        rows = h('tbody', { id: 'watch-rows', 'aria-live': 'polite' }))));
}

export function sessionChanged() { if (source) { const p = input.value; stop(); start(p); } }

function start(prefix) {
  lastId = null;
  const url = `/api/v1/watch?prefix=${encodeURIComponent(prefix)}&prevKv=true`;
  source = token() ? fetchStream(url, token()) : eventSource(url);
  button.textContent = 'Stop';
  say(state, `Connecting to the watch on "${prefix}"…`);
}

function stop() {
  source?.close();
  source = null;
  button.textContent = 'Start';
  say(state, 'Stopped.');
}

function eventSource(url) {
  const es = new EventSource(url);
  es.onopen = () => say(state, 'Live: watching.', 'ok');
  es.onerror = () => say(state, es.readyState === EventSource.CLOSED ? 'Closed by the server.' : 'Connection lost: reconnecting (resumes after the last revision seen)…', 'error');
  for (const type of ['put', 'delete']) es.addEventListener(type, (e) => { if (e.lastEventId) lastId = e.lastEventId; append(JSON.parse(e.data)); });
  es.addEventListener('compacted', (e) => { say(state, `The start revision was compacted: ${e.data}`, 'error'); es.close(); });
  return es;
}

function fetchStream(url, auth) {
  const controller = new AbortController();
  let closed = false;
  (async () => {
    let delay = 500;
    while (!closed) {
      try {
        const headers = { Authorization: auth, Accept: 'text/event-stream' };
        if (lastId) headers['Last-Event-ID'] = lastId;
        const response = await fetch(url, { headers, signal: controller.signal });
        if (!response.ok) { say(state, `The watch was refused: HTTP ${response.status}`, 'error'); closed = true; return; }
        say(state, 'Live: watching.', 'ok');
        delay = 500;
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end;
          while ((end = buffer.indexOf('\n\n')) >= 0) { dispatch(buffer.slice(0, end)); buffer = buffer.slice(end + 2); }
        }
      } catch (error) {
        if (closed) return;
      }
      say(state, 'Connection lost: reconnecting (resumes after the last revision seen)…', 'error');
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 5000);
    }
  })();
  return { close() { closed = true; controller.abort(); } };
}

function dispatch(block) {
  let event = 'message', data = [], id = null;
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event = value; else if (field === 'data') data.push(value); else if (field === 'id') id = value;
  }
  if (id) lastId = id;
  if (event === 'put' || event === 'delete') append(JSON.parse(data.join('\n')));
  else if (event === 'compacted') { say(state, `The start revision was compacted: ${data.join('\n')}`, 'error'); source?.close(); }
}

function append(change) {
  const kv = change.kv;
  const value = change.type === 'put' ? (kv.valueEncoding === 'base64' ? `(base64) ${kv.value}` : kv.value) : '';
  rows.prepend(h('tr', { class: `event-${change.type}` },
    h('td', { 'data-label': 'Revision' }, kv.modRevision),
    h('td', { 'data-label': 'Type' }, change.type),
    h('th', { scope: 'row', 'data-label': 'Key' }, kv.key),
    h('td', { 'data-label': 'Value', class: 'value-cell' }, value.length > 200 ? `${value.slice(0, 200)}…` : value),
    h('td', { 'data-label': 'Seen' }, new Date().toLocaleTimeString())));
  while (rows.childElementCount > MAX_ROWS) rows.lastElementChild.remove();
}
