// Cluster: the members with their Raft and storage state, refreshed every 2 s. Every number comes from the member
// that served the page, since the page may contact no other host: its /v3 routes, and /api/v1/members, for which it
// asks each other member on the peer port.
import { v3, rest, h, formatBytes, statusLine, say } from './api.js';

let body, timer, state;

export function init(section) {
  section.append(
    h('h2', { id: 'h-cluster' }, 'Cluster'),
    h('div', { class: 'toolbar' }, h('button', { type: 'button', onclick: refresh }, 'Refresh now'),
      h('span', { class: 'muted' }, 'Refreshes every 2 s.')),
    state = statusLine('cluster-status'),
    body = h('div', { id: 'cluster-body' }));
}

export function show() { refresh(); timer = setInterval(refresh, 2000); }
export function hide() { clearInterval(timer); }

const hexId = (id) => BigInt(id || 0).toString(16);

async function refresh() {
  try {
    const [status, members, alarms, health, version, statuses] = await Promise.all([
      v3('maintenance/status'),
      v3('cluster/member/list'),
      v3('maintenance/alarm', { action: 'GET' }).catch((e) => ({ error: e.message })),
      fetch('/health').then((r) => r.json()).catch(() => ({ health: 'false', reason: 'no answer' })),
      fetch('/version').then((r) => r.json()).catch(() => ({})),
      rest('GET', 'members').then((r) => r.json()).catch(() => []),
    ]);
    render(status, members, alarms, health, version, statuses);
    say(state, `Updated ${new Date().toLocaleTimeString()}`);
  } catch (error) {
    say(state, `Cannot reach the member: ${error.message}`, 'error');
  }
}

function render(status, members, alarms, health, version, statuses) {
  const byId = new Map(statuses.map((s) => [s.id, s]));
  const self = status.header?.member_id ?? '0';
  const leader = status.leader ?? '0';
  const alarmList = alarms.alarms ?? [];
  const rows = (members.members ?? []).map((member) => {
    const isSelf = member.ID === self;
    const role = member.isLearner ? 'learner' : member.ID === leader ? 'leader' : 'follower';
    const memberAlarms = alarmList.filter((a) => a.memberID === member.ID).map((a) => a.alarm);
    const url = (member.clientURLs ?? [])[0];
    const own = byId.get(hexId(member.ID));
    const answered = isSelf || (own && !own.error);
    const figure = (mine, theirs) => (isSelf ? mine ?? '0' : answered ? theirs ?? '0' : '—');
    const size = isSelf ? [status.dbSize, status.dbSizeInUse] : [own?.dbSize, own?.dbSizeInUse];
    return h('tr', { class: isSelf ? 'self' : '' },
      h('th', { scope: 'row' }, member.name || '(unstarted)', isSelf ? h('span', { class: 'tag' }, 'this member') : null),
      h('td', { 'data-label': 'ID' }, hexId(member.ID)),
      h('td', { 'data-label': 'Role' }, h('span', { class: `role role-${role}` }, role)),
      h('td', { 'data-label': 'Term' }, figure(status.raftTerm, own?.raftTerm)),
      h('td', { 'data-label': 'Raft index' }, figure(status.raftIndex, own?.raftIndex)),
      h('td', { 'data-label': 'Applied' }, figure(status.raftAppliedIndex, own?.raftAppliedIndex)),
      h('td', { 'data-label': 'DB size' }, answered ? `${formatBytes(size[0])} (${formatBytes(size[1])} in use)`
        : h('span', { class: 'bad' }, own?.error ? `no answer: ${own.error}` : '—')),
      h('td', { 'data-label': 'Alarms' }, memberAlarms.length ? h('span', { class: 'bad' }, memberAlarms.join(', ')) : 'none'),
      h('td', { 'data-label': 'Client URL' }, url ? (isSelf ? url : h('a', { href: `${url}/ui/` }, url)) : '—'));
  });
  const healthy = health.health === 'true';
  body.replaceChildren(
    h('dl', { class: 'facts' },
      h('div', {}, h('dt', {}, 'Health'), h('dd', { class: healthy ? 'good' : 'bad' }, healthy ? 'healthy' : `unhealthy${health.reason ? `: ${health.reason}` : ''}`)),
      h('div', {}, h('dt', {}, 'Version'), h('dd', {}, `server ${status.version ?? version.etcdserver ?? '?'}, cluster ${version.etcdcluster ?? '?'}`)),
      h('div', {}, h('dt', {}, 'Leader'), h('dd', {}, leader === '0' ? h('span', { class: 'bad' }, 'none') : hexId(leader))),
      h('div', {}, h('dt', {}, 'Term'), h('dd', {}, status.raftTerm ?? '0')),
      h('div', {}, h('dt', {}, 'Revision'), h('dd', {}, status.header?.revision ?? '0')),
      h('div', {}, h('dt', {}, 'Alarms'), h('dd', { class: alarmList.length ? 'bad' : '' },
        alarms.error ? `unknown (${alarms.error})` : alarmList.length ? alarmList.map((a) => `${a.alarm} on ${hexId(a.memberID)}`).join(', ') : 'none')),
      (status.errors ?? []).length ? h('div', {}, h('dt', {}, 'Errors'), h('dd', { class: 'bad' }, status.errors.join('; '))) : null),
    h('div', { class: 'table-wrap' },
      h('table', { class: 'cards' },
        h('caption', {}, 'Members (each one\'s term, indexes and sizes as it reports them)'),
        h('thead', {}, h('tr', {}, ...['Name', 'ID', 'Role', 'Term', 'Raft index', 'Applied', 'DB size', 'Alarms', 'Client URL'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, rows))));
}
