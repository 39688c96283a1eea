// Talks to the member that served this page, and to no other host: every URL here is a path on the same origin.

let session = null; // { name, token }: in memory only, so a closed tab forgets it (never localStorage)
const listeners = new Set();

export function currentUser() { return session?.name ?? null; }
export function token() { return session?.token ?? null; }
export function onSessionChange(listener) { listeners.add(listener); }
function changed() { for (const listener of listeners) listener(session); }

export function signOut() { session = null; changed(); }

export async function signIn(name, password) {
  const answer = await v3('auth/authenticate', { name, password });
  session = { name, token: answer.token };
  changed();
}

function authHeaders(headers = {}) {
  const t = token();
  return t ? { ...headers, Authorization: t } : headers;
}

export class ApiError extends Error {
  constructor(message, status, body) { super(message); this.status = status; this.body = body; }
}

/** A call to etcd's JSON gateway (/v3/…): a POST with a JSON body; 64-bit integers come back as strings. */
export async function v3(path, body = {}) {
  const response = await fetch(`/v3/${path}`, {
    method: 'POST', headers: authHeaders({ 'Content-Type': 'application/json' }), body: JSON.stringify(body),
  });
  const text = await response.text();
  let json = {};
  try { json = text ? JSON.parse(text) : {}; } catch { json = { error: text }; }
  if (!response.ok) throw new ApiError(json.message || json.error || `HTTP ${response.status}`, response.status, json);
  return json;
}

/** A call to the REST key API (/api/v1/…). Returns the Response; problem details become an ApiError. */
export async function rest(method, path, { body, headers, expect = [] } = {}) {
  const response = await fetch(`/api/v1/${path}`, { method, headers: authHeaders(headers), body });
  if (!response.ok && !expect.includes(response.status)) {
    let detail = `HTTP ${response.status}`;
    let problem = null;
    try { problem = await response.json(); detail = problem.detail || problem.title || detail; } catch { /* not JSON */ }
    throw new ApiError(detail, response.status, problem);
  }
  return response;
}

/** The key as the REST API's path: percent-encoded UTF-8, so '/', spaces, '%' and non-ASCII survive; a key the API
 * showed as base64 (not UTF-8) is percent-encoded byte by byte. */
export function keyPath(key, encoding = 'utf-8') {
  if (encoding !== 'base64') return encodeURIComponent(key);
  return Array.from(base64ToBytes(key), (b) => `%${b.toString(16).padStart(2, '0').toUpperCase()}`).join('');
}

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true });

export function toBase64(text) { return bytesToBase64(encoder.encode(text)); }
export function bytesToBase64(bytes) {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}
export function base64ToBytes(b64) {
  const binary = atob(b64 || '');
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
/** UTF-8 text when the bytes are valid UTF-8, else null. */
export function bytesToText(bytes) {
  try { return strictDecoder.decode(bytes); } catch { return null; }
}
/** A REST value ({value, valueEncoding}) as bytes. */
export function valueBytes(value, encoding) {
  if (value == null) return new Uint8Array();
  return encoding === 'base64' ? base64ToBytes(value) : encoder.encode(value);
}

export function formatBytes(n) {
  n = Number(n || 0);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

/** Element builder: h('button', {type: 'button', onclick}, 'text', child…). */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value == null || value === false) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else if (name === 'class') element.className = value;
    else if (value === true) element.setAttribute(name, '');
    else element.setAttribute(name, value);
  }
  for (const child of children.flat()) {
    if (child == null || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

/** A status line that screen readers announce. */
export function statusLine(id) { return h('p', { id, class: 'status', role: 'status', 'aria-live': 'polite' }); }
export function say(element, text, kind = '') {
  element.textContent = text;
  element.className = `status ${kind}`;
}
