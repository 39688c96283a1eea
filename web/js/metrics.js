// Metrics: small live charts from the member's Prometheus /metrics (etcd's metric names), sampled every 2 s while
// the page is shown. Rates and the fsync p99 are computed between two scrapes. Drawn as hand-made SVG: no library.
import { h, formatBytes, statusLine, say } from './api.js';

const POINTS = 60;
const SVG = 'http://www.w3.org/2000/svg';
const charts = {
  writes: { title: 'Writes/s', unit: (v) => v.toFixed(1) },
  reads: { title: 'Reads/s', unit: (v) => v.toFixed(1) },
  fsync: { title: 'WAL fsync p99', unit: (v) => `${(v * 1000).toFixed(2)} ms` },
  db: { title: 'DB size', unit: (v) => formatBytes(v) },
};
let state, timer, previous = null;

export function init(section) {
  section.append(h('h2', { id: 'h-metrics' }, 'Metrics'), state = statusLine('metrics-status'),
    h('div', { class: 'charts' }, Object.entries(charts).map(([id, chart]) => {
      chart.values = [];
      chart.svg = document.createElementNS(SVG, 'svg');
      chart.svg.setAttribute('viewBox', '0 0 300 80');
      chart.svg.setAttribute('role', 'img');
      chart.svg.setAttribute('aria-label', chart.title);
      chart.now = h('span', { class: 'now', id: `metric-${id}` }, '—');
      return h('figure', { class: 'chart' }, h('figcaption', {}, chart.title, ': ', chart.now), chart.svg);
    })));
}

export function show() { sample(); timer = setInterval(sample, 2000); }
export function hide() { clearInterval(timer); previous = null; }

/** Parses Prometheus' text format into [{name, labels, value}]. */
export function parse(text) {
  const samples = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = line.match(/^([a-zA-Z_:][\w:]*)(\{(.*)\})?\s+(\S+)/);
    if (!match) continue;
    const labels = {};
    for (const [, k, v] of (match[3] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k] = v;
    samples.push({ name: match[1], labels, value: Number(match[4]) });
  }
  return samples;
}

const WRITE_GRPC = new Set(['Put', 'DeleteRange', 'Txn']);
const isWriteRoute = (l) => /kv\/(put|deleterange|txn)$/i.test(l.endpoint ?? '') || (/api\/v1\/keys/.test(l.endpoint ?? '') && /PUT|DELETE/i.test(l.method ?? ''));
const isReadRoute = (l) => /kv\/range$/i.test(l.endpoint ?? '') || (/api\/v1\/keys/.test(l.endpoint ?? '') && /GET/i.test(l.method ?? ''));

/** Totals that rates are taken from: requests by kind over gRPC and HTTP, and the fsync histogram's buckets. */
export function totals(samples) {
  const t = { writes: 0, reads: 0, buckets: new Map(), db: null, t: performance.now() };
  for (const s of samples) {
    if (s.name === 'grpc_server_handled_total' && s.labels.grpc_service === 'etcdserverpb.KV') {
      if (WRITE_GRPC.has(s.labels.grpc_method)) t.writes += s.value; else if (s.labels.grpc_method === 'Range') t.reads += s.value;
    } else if (s.name === 'http_requests_received_total') {
      if (isWriteRoute(s.labels)) t.writes += s.value; else if (isReadRoute(s.labels)) t.reads += s.value;
    } else if (s.name === 'etcd_disk_wal_fsync_duration_seconds_bucket') {
      t.buckets.set(s.labels.le === '+Inf' ? Infinity : Number(s.labels.le), s.value);
    } else if (s.name === 'etcd_mvcc_db_total_size_in_bytes') {
      t.db = s.value;
    }
  }
  return t;
}

/** The 99th percentile of the fsyncs between two scrapes (the upper bound of the bucket it falls in), or null. */
export function p99(before, after) {
  const bounds = [...after.buckets.keys()].sort((a, b) => a - b);
  const total = (after.buckets.get(Infinity) ?? 0) - (before.buckets.get(Infinity) ?? 0);
  if (!(total > 0)) return null;
  for (const bound of bounds) {
    if ((after.buckets.get(bound) ?? 0) - (before.buckets.get(bound) ?? 0) >= 0.99 * total) return bound === Infinity ? bounds.at(-2) ?? null : bound;
  }
  return null;
}

async function sample() {
  let text;
  try {
    const response = await fetch('/metrics');
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    text = await response.text();
  } catch (error) {
    say(state, `Metrics unavailable: this member does not serve /metrics here (${error.message}).`, 'error');
    return;
  }
  const now = totals(parse(text));
  if (previous) {
    const seconds = (now.t - previous.t) / 1000;
    push('writes', Math.max(0, now.writes - previous.writes) / seconds);
    push('reads', Math.max(0, now.reads - previous.reads) / seconds);
    const p = p99(previous, now);
    push('fsync', p ?? charts.fsync.values.at(-1) ?? 0, p == null ? 'no fsync in the interval' : null);
  }
  if (now.db != null) push('db', now.db);
  else charts.db.now.textContent = 'not exported';
  previous = now;
  say(state, `Updated ${new Date().toLocaleTimeString()}`);
}

function push(id, value, note = null) {
  const chart = charts[id];
  chart.values.push(value);
  if (chart.values.length > POINTS) chart.values.shift();
  chart.now.textContent = note ? `${chart.unit(value)} (${note})` : chart.unit(value);
  draw(chart);
}

function draw(chart) {
  const max = Math.max(...chart.values, 1e-9);
  const step = 300 / (POINTS - 1);
  const start = POINTS - chart.values.length;
  const points = chart.values.map((v, i) => `${((start + i) * step).toFixed(1)},${(76 - (v / max) * 70).toFixed(1)}`).join(' ');
  const line = document.createElementNS(SVG, 'polyline');
  line.setAttribute('points', points);
  line.setAttribute('class', 'line');
  const label = document.createElementNS(SVG, 'text');
  label.setAttribute('x', '2'); label.setAttribute('y', '10'); label.setAttribute('class', 'max');
  label.textContent = `max ${chart.unit(max)}`;
  const base = document.createElementNS(SVG, 'line');
  for (const [k, v] of Object.entries({ x1: 0, y1: 76, x2: 300, y2: 76, class: 'axis' })) base.setAttribute(k, v);
  // The newest value as a dot, so that the first sample (a line of one point) is visible too.
  const [x, y] = points.split(' ').at(-1).split(',');
  const dot = document.createElementNS(SVG, 'circle');
  for (const [k, v] of Object.entries({ cx: x, cy: y, r: 3, class: 'dot' })) dot.setAttribute(k, v);
  chart.svg.replaceChildren(base, line, dot, label);
}
