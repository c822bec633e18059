// The control plane's dashboard, served as /dashboard.js (a classic browser script). The admin token lives in
// sessionStorage and goes out only in Authorization headers; live updates come from the server-sent event stream
// /api/admin/events, read with fetch so the token never appears in a URL.
(() => {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const KEY = 'gatehouse-control-token';
  let token = sessionStorage.getItem(KEY) || '';
  let stream = null;
  let last = null;
  // Server time minus browser time, so "last heartbeat" and "stale" do not depend on the browser's clock.
  let skew = 0;
  const now = () => Date.now() + skew;

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c);
    return e;
  }

  function notice(text, isError) {
    const n = $('notice');
    n.textContent = text;
    n.className = isError ? 'error' : '';
  }

  function ago(ms) {
    const s = Math.max(0, Math.round((now() - ms) / 1000));
    if (s < 60) return s + ' s ago';
    if (s < 3600) return Math.round(s / 60) + ' min ago';
    return Math.round(s / 3600) + ' h ago';
  }

  async function api(method, path, body) {
    const res = await fetch(path, {
      method,
      headers: Object.assign(
        { authorization: 'Bearer ' + token },
        body === undefined ? {} : { 'content-type': 'application/json' },
      ),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (res.status === 401) {
      signOut('The admin token was refused.');
      throw new Error('unauthorized');
    }
    const text = await res.text();
    const data = text ? JSON.parse(text) : null;
    if (!res.ok) throw new Error((data && (data.detail || data.title)) || 'HTTP ' + res.status);
    return data;
  }

  function signedIn(yes) {
    $('app').hidden = !yes;
    $('logout').hidden = !yes;
    $('admin-token').closest('label').hidden = yes;
    $('login').querySelector('button[type=submit]').hidden = yes;
    $('connection').textContent = yes ? 'connecting…' : 'signed out';
  }

  function signOut(reason) {
    token = '';
    sessionStorage.removeItem(KEY);
    if (stream) stream.abort();
    stream = null;
    signedIn(false);
    notice(reason || 'Signed out.', Boolean(reason));
    $('admin-token').focus();
  }

  async function connect() {
    if (stream) stream.abort();
    const ctrl = new AbortController();
    stream = ctrl;
    while (stream === ctrl) {
      try {
        const res = await fetch('/api/admin/events', {
          headers: { authorization: 'Bearer ' + token, accept: 'text/event-stream' },
          signal: ctrl.signal,
        });
        if (res.status === 401) {
          signOut('The admin token was refused.');
          return;
        }
        if (!res.ok || !res.body) throw new Error('HTTP ' + res.status);
        $('connection').textContent = 'live';
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let cut;
          while ((cut = buf.indexOf('\n\n')) !== -1) {
            const block = buf.slice(0, cut);
            buf = buf.slice(cut + 2);
            let event = 'message';
            const data = [];
            for (const line of block.split('\n')) {
              if (line.startsWith('event:')) event = line.slice(6).trim();
              else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
            }
            if (event === 'snapshot' && data.length > 0) {
              const snap = JSON.parse(data.join('\n'));
              skew = snap.at - Date.now();
              render(snap);
            }
          }
        }
      } catch {
        if (ctrl.signal.aborted) return;
      }
      if (stream !== ctrl) return;
      $('connection').textContent = 'reconnecting…';
      await new Promise((r) => setTimeout(r, 2000));
    }
  }

  async function setState(name, state) {
    const message = $('message').value;
    const retry = $('retry').value;
    const body = { state };
    if (message !== '') body.message = message;
    if (retry !== '') body.retryAfterSec = Number(retry);
    try {
      await api('POST', '/api/admin/projects/' + encodeURIComponent(name) + '/status', body);
      notice(name + ' set to ' + state + '.');
    } catch (err) {
      if (err.message !== 'unauthorized') notice('Could not set ' + name + ' to ' + state + ': ' + err.message, true);
    }
  }

  async function setFailMode(name, failMode) {
    try {
      await api('POST', '/api/admin/projects/' + encodeURIComponent(name) + '/fail-mode', { failMode });
      notice(name + ' fail mode set to ' + failMode + '.');
    } catch (err) {
      if (err.message !== 'unauthorized')
        notice('Could not change the fail mode of ' + name + ': ' + err.message, true);
    }
  }

  async function rotate(name) {
    if (!confirm('Rotate the token of ' + name + '? Every instance using the current token is disconnected.')) return;
    try {
      const r = await api('POST', '/api/admin/projects/' + encodeURIComponent(name) + '/rotate', {});
      showToken(name, r.token);
    } catch (err) {
      if (err.message !== 'unauthorized') notice('Could not rotate the token of ' + name + ': ' + err.message, true);
    }
  }

  function showToken(name, value) {
    $('new-token-project').textContent = name;
    $('new-token-value').textContent = value;
    $('new-token').hidden = false;
    notice('New token for ' + name + ' shown below, once.');
  }

  function instancesCell(p, staleAfterMs) {
    if (p.instances.length === 0 && !(p.instancesOmitted > 0))
      return el('span', { class: 'muted', text: 'no instances' });
    const ul = el('ul', { class: 'inst' });
    for (const i of p.instances) {
      const stale = i.connected && now() - i.lastSeenAt > staleAfterMs;
      const kind = !i.connected ? 'disconnected' : stale ? 'stale' : 'live';
      ul.append(
        el(
          'li',
          {},
          el('span', {
            class: 'dot' + (kind === 'live' ? '' : kind === 'stale' ? ' stale' : ' gone'),
            'aria-hidden': 'true',
          }),
          (i.language || 'unknown') +
            ' ' +
            (i.sdkVersion || '?') +
            ' · ' +
            (i.env || 'unknown env') +
            ' · ' +
            kind +
            ' · last heartbeat ' +
            ago(i.lastSeenAt),
        ),
      );
    }
    if (p.instancesOmitted > 0)
      ul.append(el('li', { class: 'muted', text: '+ ' + p.instancesOmitted + ' older disconnected instances' }));
    return ul;
  }

  function render(snap) {
    last = snap;
    const body = $('projects');
    const focused =
      document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.key : undefined;
    body.replaceChildren();
    $('empty').hidden = snap.projects.length > 0;
    for (const p of snap.projects) {
      const msgs = el(
        'div',
        { class: 'muted' },
        el('div', { text: 'paused: ' + (p.pauseMessage || 'default') }),
        el('div', { text: 'maintenance: ' + (p.maintenanceMessage || 'default') }),
        el('div', { text: 'offline: ' + (p.offlineMessage || 'default') }),
        p.retryAfterSec !== null && p.state !== 'ACTIVE'
          ? el('div', { text: 'retry after ' + p.retryAfterSec + ' s' })
          : null,
      );
      const actions = el('div', { class: 'actions', role: 'group', 'aria-label': 'Set state of ' + p.name });
      for (const s of snap.states) {
        actions.append(
          el('button', {
            type: 'button',
            class: 'state-' + s,
            'aria-label': 'Set ' + p.name + ' to ' + s,
            'aria-pressed': String(p.state === s),
            'data-key': p.name + '/' + s,
            text: s,
            onclick: () => setState(p.name, s),
          }),
        );
      }
      const other = p.failMode === 'closed' ? 'open' : 'closed';
      actions.append(
        el('button', {
          type: 'button',
          'aria-label': 'Set ' + p.name + ' fail mode to ' + other,
          'data-key': p.name + '/fail',
          text: 'fail mode to ' + other,
          onclick: () => setFailMode(p.name, other),
        }),
      );
      actions.append(
        el('button', {
          type: 'button',
          'aria-label': 'Rotate token of ' + p.name,
          'data-key': p.name + '/rotate',
          text: 'rotate token',
          onclick: () => rotate(p.name),
        }),
      );
      const live = p.instances.filter((i) => i.connected).length;
      body.append(
        el(
          'tr',
          { 'data-project': p.name },
          el(
            'th',
            { scope: 'row', 'data-label': 'Project' },
            el('span', { text: p.name }),
            el('div', {
              class: 'muted',
              text: 'token ' + ((p.tokens.find((t) => t.revokedAt === null) || {}).hint || 'revoked'),
            }),
          ),
          el(
            'td',
            { 'data-label': 'State' },
            el('span', { class: 'state state-' + p.state, 'data-testid': 'state-' + p.name, text: p.state }),
            el('div', { class: 'muted', text: 'clients see ' + p.wire.status }),
          ),
          el('td', { 'data-label': 'Fail mode', text: p.failMode }),
          el('td', { 'data-label': 'Messages' }, msgs),
          el('td', { 'data-label': 'Instances (' + live + ' live)' }, instancesCell(p, snap.staleAfterMs)),
          el('td', { 'data-label': 'Set state' }, actions),
        ),
      );
    }
    if (focused) {
      const again = body.querySelector('[data-key="' + CSS.escape(focused) + '"]');
      if (again) again.focus();
    }
    const audit = $('audit');
    audit.replaceChildren();
    for (const a of snap.audit) {
      audit.append(
        el(
          'tr',
          {},
          el(
            'td',
            { 'data-label': 'When' },
            el('time', { datetime: new Date(a.at).toISOString(), text: new Date(a.at).toLocaleString() }),
          ),
          el('td', { 'data-label': 'Who', text: a.actor }),
          el('td', { 'data-label': 'Project', text: a.project }),
          el('td', { 'data-label': 'Change', text: a.action + (a.detail ? ' (' + a.detail + ')' : '') }),
          el('td', { 'data-label': 'From', text: a.from || '—' }),
          el('td', { 'data-label': 'To', text: a.to || '—' }),
        ),
      );
    }
    $('connection').textContent = 'live · updated ' + new Date(snap.at).toLocaleTimeString();
  }

  $('login').addEventListener('submit', async (e) => {
    e.preventDefault();
    token = $('admin-token').value.trim();
    if (!token) return;
    try {
      await api('GET', '/api/admin/projects');
    } catch (err) {
      if (err.message !== 'unauthorized') notice('Sign-in failed: ' + err.message, true);
      return;
    }
    sessionStorage.setItem(KEY, token);
    $('admin-token').value = '';
    signedIn(true);
    notice('Signed in.');
    connect();
  });
  $('logout').addEventListener('click', () => signOut());
  $('change').addEventListener('submit', (e) => e.preventDefault());
  $('create').addEventListener('submit', async (e) => {
    e.preventDefault();
    const name = $('new-name').value.trim();
    try {
      const r = await api('POST', '/api/admin/projects', { name, failMode: $('new-fail').value });
      $('new-name').value = '';
      showToken(name, r.token);
    } catch (err) {
      if (err.message !== 'unauthorized') notice('Could not create ' + name + ': ' + err.message, true);
    }
  });
  setInterval(() => {
    if (last) render(last);
  }, 5000);
  if (token) {
    signedIn(true);
    connect();
  } else signedIn(false);
})();
