// Auth: sign in (the token stays in a JS variable, see api.js), the users with their roles and the roles with their
// permissions; editable by root, or by anyone while authentication is off (etcd allows it then too).
import { v3, h, signIn, currentUser, statusLine, say, toBase64, base64ToBytes, bytesToText } from './api.js';

let enabled = false, state, formState, users, roles, editors;

export function init(section) {
  const name = h('input', { id: 'signin-name', name: 'username', autocomplete: 'username', required: true });
  const password = h('input', { id: 'signin-password', name: 'password', type: 'password', autocomplete: 'current-password' });
  section.append(
    h('h2', { id: 'h-auth' }, 'Auth'),
    h('form', { id: 'signin-form', class: 'card', onsubmit: async (e) => {
      e.preventDefault();
      try { await signIn(name.value, password.value); password.value = ''; say(formState, `Signed in as ${name.value}.`, 'ok'); }
      catch (error) { say(formState, `Sign-in refused: ${error.message}`, 'error'); }
    } },
      h('h3', {}, 'Sign in'),
      h('label', { for: 'signin-name' }, 'User'), name,
      h('label', { for: 'signin-password' }, 'Password'), password,
      h('button', { type: 'submit' }, 'Sign in'),
      formState = statusLine('signin-status')),
    state = statusLine('auth-status'),
    editors = h('div', { id: 'auth-editors' }),
    h('div', { class: 'two' },
      h('div', {}, h('h3', {}, 'Users'), users = h('ul', { id: 'user-list', class: 'plain' })),
      h('div', {}, h('h3', {}, 'Roles'), roles = h('ul', { id: 'role-list', class: 'plain' }))));
}

export function show() { refresh(); }
export function sessionChanged() { refresh(); }

const canEdit = () => !enabled || currentUser() === 'root';
const text = (b64) => bytesToText(base64ToBytes(b64 ?? '')) ?? `(base64) ${b64}`;

function describeRange(perm) {
  const key = text(perm.key);
  if (!perm.range_end) return `key ${key}`;
  const end = text(perm.range_end);
  if (perm.range_end === 'AA==') return `every key from ${key}`;
  if (perm.range_end === prefixEnd(base64ToBytes(perm.key))) return `every key under ${key}`;
  return `keys [${key}, ${end})`;
}

async function refresh() {
  try {
    enabled = !!(await v3('auth/status')).enabled;
    const userNames = (await v3('auth/user/list')).users ?? [];
    const roleNames = (await v3('auth/role/list')).roles ?? [];
    const userRoles = await Promise.all(userNames.map((u) => v3('auth/user/get', { name: u }).then((r) => r.roles ?? [])));
    const rolePerms = await Promise.all(roleNames.map((r) => v3('auth/role/get', { role: r }).then((x) => x.perm ?? [])));
    const edit = canEdit();
    users.replaceChildren(...userNames.map((u, i) => h('li', {}, h('strong', {}, u), `: ${userRoles[i].join(', ') || 'no roles'}`,
      edit ? h('span', { class: 'actions' },
        ...userRoles[i].map((r) => h('button', { type: 'button', class: 'small', onclick: () => act('auth/user/revoke', { name: u, role: r }, `Revoked ${r} from ${u}`) }, `revoke ${r}`)),
        h('button', { type: 'button', class: 'small danger', onclick: () => confirm(`Delete user ${u}?`) && act('auth/user/delete', { name: u }, `Deleted ${u}`) }, 'delete')) : null)));
    roles.replaceChildren(...roleNames.map((r, i) => h('li', {}, h('strong', {}, r), ': ',
      rolePerms[i].length ? h('ul', {}, rolePerms[i].map((p) => h('li', {}, `${p.permType ?? 'READ'} ${describeRange(p)}`,
        edit ? h('button', { type: 'button', class: 'small', onclick: () => act('auth/role/revoke', { role: r, key: p.key, range_end: p.range_end }, `Revoked a permission from ${r}`) }, 'revoke') : null)))
        : (r === 'root' ? 'everything' : 'no permissions'))));
    renderEditors(edit, userNames, roleNames);
    say(state, enabled ? (currentUser() ? `Authentication is on; signed in as ${currentUser()}${edit ? '' : ' (read-only: only root edits users and roles)'}.`
      : 'Authentication is on; sign in to see and change more.') : 'Authentication is off (see the banner).');
  } catch (error) {
    users.replaceChildren(); roles.replaceChildren(); editors.replaceChildren();
    say(state, enabled
      ? `Authentication is on; ${currentUser() ? 'only root may read users and roles' : 'sign in as root to see users and roles'} (${error.message}).`
      : `Cannot read users and roles: ${error.message}`, enabled ? '' : 'error');
  }
}

async function act(path, body, done) {
  try { await v3(path, body); say(state, `${done}.`, 'ok'); } catch (error) { say(state, `Refused: ${error.message}`, 'error'); return; }
  refresh();
}

function field(id, label, attributes = {}) { const input = h('input', { id, name: id, ...attributes }); return [h('label', { for: id }, label), input]; }
function select(id, label, options) { return [h('label', { for: id }, label), h('select', { id, name: id }, options.map((o) => h('option', { value: o }, o)))]; }
const value = (id) => document.getElementById(id).value;

function renderEditors(edit, userNames, roleNames) {
  if (!edit) { editors.replaceChildren(); return; }
  const form = (title, onsubmit, ...content) => h('form', { class: 'card', onsubmit: (e) => { e.preventDefault(); onsubmit(); } }, h('h4', {}, title), ...content);
  editors.replaceChildren(h('div', { class: 'cards-row' },
    form('Add user', () => act('auth/user/add', { name: value('nu-name'), password: value('nu-pass') }, `Added ${value('nu-name')}`),
      ...field('nu-name', 'Name', { required: true, autocomplete: 'off' }), ...field('nu-pass', 'Password', { type: 'password', autocomplete: 'new-password' }),
      h('button', { type: 'submit' }, 'Add user')),
    form('Add role', () => act('auth/role/add', { name: value('nr-name') }, `Added ${value('nr-name')}`),
      ...field('nr-name', 'Name', { required: true, autocomplete: 'off' }), h('button', { type: 'submit' }, 'Add role')),
    form('Grant a role to a user', () => act('auth/user/grant', { user: value('g-user'), role: value('g-role') }, `Granted ${value('g-role')} to ${value('g-user')}`),
      ...select('g-user', 'User', userNames), ...select('g-role', 'Role', roleNames), h('button', { type: 'submit' }, 'Grant')),
    form('Grant a permission to a role', () => {
      const key = value('p-key');
      const prefix = document.getElementById('p-prefix').checked;
      // A prefix is the range [key, key with its last byte + 1); an empty prefix is every key ("\0" to "\0").
      const perm = { permType: value('p-type'), key: toBase64(key || '\0') };
      if (prefix) perm.range_end = key ? prefixEnd(key) : 'AA==';
      act('auth/role/grant', { name: value('p-role'), perm }, `Granted ${perm.permType} on ${key}${prefix ? '*' : ''} to ${value('p-role')}`);
    },
      ...select('p-role', 'Role', roleNames), ...select('p-type', 'Permission', ['READ', 'WRITE', 'READWRITE']),
      ...field('p-key', 'Key', { autocomplete: 'off' }),
      h('label', { class: 'check' }, h('input', { id: 'p-prefix', type: 'checkbox' }), 'every key with this prefix'),
      h('button', { type: 'submit' }, 'Grant'))));
}

/** The end of the range of keys starting with `key` (text or bytes), base64: its last byte below 0xff plus one. */
function prefixEnd(key) {
  const bytes = typeof key === 'string' ? new TextEncoder().encode(key) : key;
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i] < 0xff) { const end = bytes.slice(0, i + 1); end[i]++; let s = ''; for (const b of end) s += String.fromCharCode(b); return btoa(s); }
  }
  return 'AA==';
}
