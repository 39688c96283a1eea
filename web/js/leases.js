// Leases: every lease with its TTL counting down (ticked locally each second, re-read from the member every 5 s),
// the keys attached, and revoke.
import { v3, h, statusLine, say, base64ToBytes, bytesToText } from './api.js';

let list, state, refreshTimer, tickTimer, leases = [];

export function init(section) {
  section.append(
    h('h2', { id: 'h-leases' }, 'Leases'),
    h('div', { class: 'toolbar' }, h('button', { type: 'button', onclick: () => refresh() }, 'Refresh now')),
    state = statusLine('lease-status'),
    h('div', { class: 'table-wrap' },
      h('table', { class: 'cards' },
        h('caption', {}, 'Leases'),
        h('thead', {}, h('tr', {}, ['ID', 'TTL left', 'Granted TTL', 'Keys', ''].map((t) => h('th', { scope: 'col' }, t)))),
        list = h('tbody', { id: 'lease-rows' }))));
}

export function show() { refresh(); refreshTimer = setInterval(() => refresh(), 5000); tickTimer = setInterval(tick, 1000); }
export function hide() { clearInterval(refreshTimer); clearInterval(tickTimer); }
export function sessionChanged() { refresh(); }

const keyText = (b64) => { const text = bytesToText(base64ToBytes(b64)); return text ?? `(base64) ${b64}`; };

async function refresh(note = '') {
  try {
    const answer = await v3('lease/leases');
    const ids = (answer.leases ?? []).map((l) => l.ID);
    leases = (await Promise.all(ids.map((id) => v3('lease/timetolive', { ID: id, keys: true }).catch(() => null))))
      .filter((l) => l && Number(l.TTL ?? 0) > 0)
      .map((l) => ({ id: l.ID, ttl: Number(l.TTL), granted: Number(l.grantedTTL ?? 0), keys: (l.keys ?? []).map(keyText), at: performance.now() }));
    render();
    say(state, note + (leases.length ? `${leases.length} lease${leases.length === 1 ? '' : 's'}` : 'No leases.'), note ? 'ok' : '');
  } catch (error) {
    say(state, `Cannot list leases: ${error.message}`, 'error');
  }
}

const left = (lease) => Math.max(0, Math.ceil(lease.ttl - (performance.now() - lease.at) / 1000));

function tick() { for (const cell of list.querySelectorAll('[data-ttl]')) { const lease = leases.find((l) => l.id === cell.dataset.ttl); if (lease) cell.textContent = `${left(lease)} s`; } }

function render() {
  list.replaceChildren(...leases.map((lease) => h('tr', {},
    h('th', { scope: 'row', 'data-label': 'ID' }, `${BigInt(lease.id).toString(16)} (${lease.id})`),
    h('td', { 'data-label': 'TTL left', 'data-ttl': lease.id }, `${left(lease)} s`),
    h('td', { 'data-label': 'Granted TTL' }, `${lease.granted} s`),
    h('td', { 'data-label': 'Keys' }, lease.keys.length ? h('ul', { class: 'plain' }, lease.keys.map((k) => h('li', {}, k))) : 'none'),
    h('td', {}, h('button', { type: 'button', class: 'danger', 'aria-label': `Revoke lease ${lease.id}`, onclick: () => revoke(lease) }, 'Revoke')))));
}

async function revoke(lease) {
  if (!confirm(`Revoke lease ${lease.id}? Its ${lease.keys.length} key(s) will be deleted.`)) return;
  try {
    await v3('lease/revoke', { ID: lease.id });
    await refresh(`Revoked ${lease.id}. `);
  } catch (error) {
    say(state, `Cannot revoke: ${error.message}`, 'error');
  }
}
