// The dashboard's shell: one nav, hash routes (#/keys …), one persistent section per page so that a page's state
// (a running watch tail, a chart's history) survives moving to another page and back.
import { currentUser, onSessionChange, signOut, v3, h } from './api.js';
import * as cluster from './cluster.js';
import * as keys from './keys.js';
import * as watch from './watch.js';
import * as leases from './leases.js';
import * as auth from './auth.js';
import * as metrics from './metrics.js';

const pages = { cluster, keys, watch, leases, auth, metrics };
const started = new Set();
let current = null;

function route() {
  const name = (location.hash.match(/^#\/(\w+)/) || [])[1];
  const page = pages[name] ? name : 'cluster';
  if (current === page) return;
  if (current) {
    document.getElementById(`page-${current}`).hidden = true;
    pages[current].hide?.();
  }
  current = page;
  const section = document.getElementById(`page-${page}`);
  if (!started.has(page)) { pages[page].init(section); started.add(page); }
  section.hidden = false;
  pages[page].show?.();
  for (const link of document.querySelectorAll('#nav a')) {
    if (link.dataset.page === page) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  document.title = `${section.querySelector('h2')?.textContent ?? page} · HttpKv`;
}

/** The banner says plainly when authentication is off: then anyone who reaches this port may do anything. */
export async function refreshAuthBanner() {
  const banner = document.getElementById('auth-banner');
  try {
    const status = await v3('auth/status');
    if (status.enabled) {
      banner.hidden = true;
    } else {
      banner.hidden = false;
      banner.textContent = 'Authentication is off: every request is allowed, and anyone who can reach this port can read, ' +
        'change and delete every key. Enable it with etcdctl auth enable (after adding the root user).';
    }
  } catch (error) {
    banner.hidden = false;
    banner.textContent = `Could not read the authentication status: ${error.message}`;
  }
}

function renderWho() {
  const who = document.getElementById('whoami');
  who.replaceChildren();
  const name = currentUser();
  if (name) who.append(`Signed in as ${name} `, h('button', { type: 'button', class: 'link', onclick: signOut }, 'Sign out'));
  else who.append(h('a', { href: '#/auth' }, 'Sign in'));
}

onSessionChange(() => { renderWho(); refreshAuthBanner(); for (const page of started) pages[page].sessionChanged?.(); });
window.addEventListener('hashchange', route);
renderWho();
refreshAuthBanner();
route();
