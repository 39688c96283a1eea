// Keys: a tree by prefix (folders split on '/'), built from the REST API's paged lists; a viewer and editor with
// text / JSON / hex views; create, save and delete conditioned on the revision shown (If-Match), so an edit made
// elsewhere meanwhile is reported as a conflict and never overwritten; the key's history with a line diff.
import { rest, keyPath, h, statusLine, say, valueBytes, bytesToText, ApiError } from './api.js';
import { lineDiff } from './diff.js';

const PAGE = 200;
const MAX_PAGES = 25; // 5,000 keys per prefix view; "Load more" continues from the cursor

let prefix = '';
let listState, crumbs, tree, more, nextUrl, loaded;
let viewer, status, current; // current: the key shown, as loaded: {key, value, valueEncoding, modRevision, …}

export function init(section) {
  const prefixInput = h('input', { id: 'keys-prefix', name: 'prefix', type: 'text', autocomplete: 'off', spellcheck: 'false' });
  const newKey = h('input', { id: 'new-key', name: 'key', type: 'text', required: true, autocomplete: 'off', spellcheck: 'false' });
  const newValue = h('textarea', { id: 'new-value', name: 'value', rows: 3, spellcheck: 'false' });
  const createStatus = statusLine('create-status');
  section.append(
    h('h2', { id: 'h-keys' }, 'Keys'),
    h('div', { class: 'split' },
      h('div', { class: 'pane' },
        h('form', { class: 'row', onsubmit: (e) => { e.preventDefault(); open(prefixInput.value); } },
          h('label', { for: 'keys-prefix' }, 'Prefix'), prefixInput, h('button', { type: 'submit' }, 'List')),
        crumbs = h('nav', { class: 'crumbs', 'aria-label': 'Prefix path' }),
        listState = statusLine('list-status'),
        tree = h('ul', { class: 'tree', id: 'key-tree' }),
        more = h('button', { type: 'button', hidden: true, onclick: () => loadPage(nextUrl) }, 'Load more'),
        h('details', { class: 'create', open: true },
          h('summary', {}, 'Create a key'),
          h('form', { id: 'create-form', onsubmit: async (e) => {
            e.preventDefault();
            await create(newKey.value, newValue.value, createStatus);
          } },
            h('label', { for: 'new-key' }, 'Key'), newKey,
            h('label', { for: 'new-value' }, 'Value'), newValue,
            h('button', { type: 'submit' }, 'Create'),
            createStatus))),
      viewer = h('div', { class: 'pane viewer', id: 'key-viewer' }, h('p', { class: 'muted' }, 'Choose a key to see its value.'))));
  status = statusLine('key-status');
  prefixInput.value = prefix;
  open(prefix);
}

export function sessionChanged() { open(prefix); }

/** Lists the keys under p, grouped by their next '/'-separated segment. */
function open(p) {
  prefix = p;
  document.getElementById('keys-prefix').value = p;
  const parts = p.split('/').slice(0, -1);
  crumbs.replaceChildren(h('button', { type: 'button', class: 'link', onclick: () => open('') }, '(all)'),
    ...parts.map((part, i) => {
      const target = `${parts.slice(0, i + 1).join('/')}/`;
      return [' / ', h('button', { type: 'button', class: 'link', onclick: () => open(target) }, part || '(empty)')];
    }).flat());
  tree.replaceChildren();
  loaded = { folders: new Map(), keys: [] };
  loadPage(`/api/v1/keys?prefix=${encodeURIComponent(p)}&limit=${PAGE}`, MAX_PAGES);
}

async function loadPage(url, pages = MAX_PAGES) {
  const wanted = prefix;
  more.hidden = true;
  say(listState, 'Loading…');
  try {
    for (let n = 0; n < pages && url; n++) {
      const list = await (await rest('GET', url.replace(/^\/api\/v1\//, ''))).json();
      if (wanted !== prefix) return; // another prefix was opened meanwhile
      for (const kv of list.keys) add(kv);
      url = list.next;
    }
    nextUrl = url;
    more.hidden = !url;
    render();
    const count = loaded.keys.length + [...loaded.folders.values()].reduce((a, b) => a + b, 0);
    say(listState, count ? `${count} key${count === 1 ? '' : 's'}${url ? ' (more to load)' : ''}` : 'No keys under this prefix.');
  } catch (error) {
    say(listState, `Cannot list keys: ${error.message}`, 'error');
  }
}

function add(kv) {
  // A key that is not UTF-8 comes as base64, whose text says nothing of its folders: it is listed as a leaf here.
  if (kv.keyEncoding === 'base64') { loaded.keys.push(kv); return; }
  const rest = kv.key.slice(prefix.length);
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const folder = prefix + rest.slice(0, slash + 1);
    loaded.folders.set(folder, (loaded.folders.get(folder) ?? 0) + 1);
  } else {
    loaded.keys.push(kv);
  }
}

function render() {
  tree.replaceChildren(
    ...[...loaded.folders].map(([folder, count]) => h('li', { class: 'folder' },
      h('button', { type: 'button', class: 'link', onclick: () => open(folder) }, `${folder.slice(prefix.length)}`),
      h('span', { class: 'muted' }, ` ${count}`))),
    ...loaded.keys.map((kv) => h('li', { class: 'leaf' },
      h('button', { type: 'button', class: 'link', 'data-key': kv.key, onclick: () => show(kv.key, false, kv.keyEncoding) },
        kv.keyEncoding === 'base64' ? `(bytes) ${kv.key}` : kv.key.slice(prefix.length) || '(the prefix itself)'),
      h('span', { class: 'muted' }, ` rev ${kv.modRevision}`))));
}

async function create(key, value, line) {
  if (!key) { say(line, 'A key is needed.', 'error'); return; }
  try {
    // If-None-Match: * makes it create-only: an existing key is reported, not overwritten.
    const response = await rest('PUT', `keys/${keyPath(key)}`, { body: value, headers: { 'If-None-Match': '*' }, expect: [412] });
    if (response.status === 412) { say(line, `"${key}" already exists: open it to edit it.`, 'error'); return; }
    const result = await response.json();
    say(line, `Created "${key}" at revision ${result.revision}.`, 'ok');
    if (key.startsWith(prefix)) open(prefix);
    await show(key);
  } catch (error) {
    say(line, `Cannot create: ${error.message}`, 'error');
  }
}

/** Loads a key and shows it; `keep` keeps the status line (after a save). */
async function show(key, keep = false, encoding = 'utf-8') {
  try {
    const response = await rest('GET', `keys/${keyPath(key, encoding)}?format=json`, { expect: [404] });
    if (response.status === 404) { current = null; viewer.replaceChildren(h('p', {}, `"${key}" does not exist (any more).`)); return; }
    current = await response.json();
    renderViewer(keep);
  } catch (error) {
    say(status, `Cannot read "${key}": ${error.message}`, 'error');
  }
}

function hexDump(bytes) {
  const lines = [];
  for (let i = 0; i < bytes.length; i += 16) {
    const chunk = [...bytes.slice(i, i + 16)];
    const hex = chunk.map((b) => b.toString(16).padStart(2, '0')).join(' ');
    const ascii = chunk.map((b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${i.toString(16).padStart(8, '0')}  ${hex.padEnd(47)}  ${ascii}`);
  }
  return lines.join('\n') || '(empty)';
}

function renderViewer(keep) {
  const kv = current;
  const bytes = valueBytes(kv.value, kv.valueEncoding);
  const text = bytesToText(bytes);
  let json = null;
  if (text != null) { try { json = JSON.stringify(JSON.parse(text), null, 2); } catch { /* not JSON */ } }
  const views = { text: text ?? '(not UTF-8: see the hex view)', json: json ?? '(not JSON)', hex: hexDump(bytes) };
  const shown = h('pre', { class: 'value', id: 'value-view', tabindex: '0' }, views[json ? 'json' : text != null ? 'text' : 'hex']);
  const viewRadios = Object.keys(views).map((view) => h('label', { class: 'radio' },
    h('input', { type: 'radio', name: 'view', value: view, checked: view === (json ? 'json' : text != null ? 'text' : 'hex'),
      onchange: () => { shown.textContent = views[view]; } }), view === 'json' ? 'JSON' : view));
  const editor = h('textarea', { id: 'value-editor', name: 'value', rows: 8, spellcheck: 'false', disabled: text == null }, text ?? '');
  if (!keep) say(status, '');
  viewer.replaceChildren(
    h('h3', {}, kv.key),
    h('p', { class: 'meta' }, `revision ${kv.modRevision} · created at ${kv.createRevision} · version ${kv.version}`,
      kv.lease !== '0' ? ` · lease ${kv.lease}` : ''),
    h('fieldset', { class: 'views' }, h('legend', {}, 'View as'), viewRadios),
    shown,
    h('form', { id: 'edit-form', onsubmit: (e) => { e.preventDefault(); save(kv, editor.value); } },
      h('label', { for: 'value-editor' }, `Edit (saved only if the key is still at revision ${kv.modRevision})`),
      editor,
      text == null ? h('p', { class: 'muted' }, 'Binary values are not editable here.') : null,
      h('div', { class: 'row' },
        h('button', { type: 'submit', id: 'save', disabled: text == null }, 'Save'),
        h('button', { type: 'button', id: 'reload', onclick: () => show(kv.key, false, kv.keyEncoding) }, 'Reload'),
        h('button', { type: 'button', id: 'delete', class: 'danger', onclick: () => remove(kv) }, 'Delete'))),
    status,
    h('h4', {}, 'History'),
    h('div', { id: 'history' }, h('button', { type: 'button', onclick: () => history(kv.key, kv.keyEncoding) }, 'Show history')));
}

function conflict(kv, error, verb) {
  const now = error.body?.currentModRevision;
  say(status, `Conflict: "${kv.key}" was changed by someone else (now ${now ? `at revision ${now}` : 'deleted'}; you loaded ` +
    `revision ${kv.modRevision}). Nothing was ${verb}. Reload to see the current value.`, 'error conflict');
}

async function save(kv, value) {
  try {
    const response = await rest('PUT', `keys/${keyPath(kv.key, kv.keyEncoding)}`, { body: value, headers: { 'If-Match': `"${kv.modRevision}"` }, expect: [412] });
    if (response.status === 412) { conflict(kv, new ApiError('', 412, await response.json()), 'saved'); return; }
    const result = await response.json();
    say(status, `Saved at revision ${result.revision}.`, 'ok');
    await show(kv.key, true, kv.keyEncoding);
  } catch (error) {
    say(status, `Cannot save: ${error.message}`, 'error');
  }
}

async function remove(kv) {
  if (!confirm(`Delete "${kv.key}" (revision ${kv.modRevision})?`)) return;
  try {
    const response = await rest('DELETE', `keys/${keyPath(kv.key, kv.keyEncoding)}`, { headers: { 'If-Match': `"${kv.modRevision}"` }, expect: [412] });
    if (response.status === 412) { conflict(kv, new ApiError('', 412, await response.json()), 'deleted'); return; }
    const result = await response.json();
    current = null;
    viewer.replaceChildren(h('p', { role: 'status', id: 'key-status' }, `Deleted "${kv.key}" at revision ${result.revision}.`));
    open(prefix);
  } catch (error) {
    say(status, `Cannot delete: ${error.message}`, 'error');
  }
}

async function history(key, encoding = 'utf-8') {
  const box = document.getElementById('history');
  try {
    const answer = await (await rest('GET', `keys/${keyPath(key, encoding)}?revisions=true`)).json();
    const versions = answer.versions;
    const label = (v) => `rev ${v.modRevision}${v.deleted ? ' (deleted)' : ` · v${v.version}`}`;
    const text = (v) => (v.deleted ? '' : bytesToText(valueBytes(v.value, v.valueEncoding)) ?? '(binary)');
    const pick = (id, index) => h('select', { id, name: id }, versions.map((v, i) => h('option', { value: i, selected: i === index }, label(v))));
    const from = pick('diff-from', Math.max(0, versions.length - 2));
    const to = pick('diff-to', versions.length - 1);
    const out = h('pre', { class: 'diff', id: 'diff', tabindex: '0' });
    const draw = () => {
      const lines = lineDiff(text(versions[from.value]), text(versions[to.value]));
      out.replaceChildren(...lines.map(({ op, line }) => h('span', { class: op === '+' ? 'add' : op === '-' ? 'del' : '' }, `${op} ${line}\n`)));
    };
    from.addEventListener('change', draw);
    to.addEventListener('change', draw);
    box.replaceChildren(...[
      h('ol', { class: 'history' }, versions.map((v) => h('li', {}, label(v), v.deleted ? '' : `: ${text(v).slice(0, 80)}`))),
      answer.compactRevision ? h('p', { class: 'muted' }, `Versions before revision ${answer.compactRevision} were compacted away.`) : null,
      h('div', { class: 'row' }, h('label', { for: 'diff-from' }, 'Diff from'), from, h('label', { for: 'diff-to' }, 'to'), to),
      out].filter(Boolean));
    draw();
  } catch (error) {
    box.replaceChildren(h('p', { class: 'error' }, `Cannot read the history: ${error.message}`));
  }
}
