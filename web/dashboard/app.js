// billd dashboard: bill runs, live.
//
// Plain JavaScript, no build step, no dependency. It talks to billd's own GraphQL API
// at ../query (relative, so it works behind a proxy that mounts billd under a prefix):
// queries and mutations over HTTP POST, subscriptions over one websocket per page
// speaking graphql-transport-ws. The API key lives in sessionStorage only: it is gone
// when the tab closes, and "sign out" forgets it at once.

const KEY_STORAGE = 'billd.apiKey';
const API_URL = new URL('../query', location.href).href;
const WS_URL = API_URL.replace(/^http/, 'ws');
const LIST_SIZE = 25; // runs shown on the list
const FAILURES_SHOWN = 100; // failures listed on a run's page (one page); the count is always whole
const FINAL = new Set(['COMPLETED', 'COMPLETED_WITH_ERRORS', 'FAILED', 'CANCELED']);
const CAN_START = new Set(['ADMIN', 'OPERATOR']);
const FORM_FIELDS = ['periodStart', 'periodEnd', 'postingDate', 'accountIds', 'closeInvoices'];

const RUN_FIELDS = `id status periodStart periodEnd postingDate accountsTotal accountsProcessed accountsFailed
  invoicesCreated chargesCreated totals { currency { code } amount } createdAt startedAt finishedAt`;

const Q_VIEWER = `query Viewer { viewer { role keyName partner { name } } }`;
const Q_RUNS = `query Runs($last: Int!) { billRuns(last: $last) { totalCount edges { node { ${RUN_FIELDS} } } } }`;
const Q_RUN = `query Run($id: ID!) { node(id: $id) { __typename ... on BillRun { ${RUN_FIELDS}
  errorsConnection(first: ${FAILURES_SHOWN}) { edges { node { account { id name } message } } } } } }`;
const M_START = `mutation StartBillRun($input: BillRunInput!) { startBillRun(input: $input) { id status } }`;
const M_CANCEL = `mutation CancelBillRun($id: ID!) { cancelBillRun(id: $id) { ${RUN_FIELDS} } }`;
const S_RUNS = `subscription RunsChanged { billRunsChanged { ${RUN_FIELDS} } }`;
const S_PROGRESS = `subscription RunProgress($id: ID!) { billRunProgress(id: $id) {
  kind message account { id name } billRun { ${RUN_FIELDS} } } }`;

// ---- Errors ------------------------------------------------------------------------

// ApiError carries the GraphQL errors of a refused request; code and field are the
// first error's extensions.
class ApiError extends Error {
  constructor(errors, status) {
    const list = Array.isArray(errors) && errors.length ? errors : [{ message: 'unknown error' }];
    super(list.map(describe).join('; '));
    this.errors = list;
    this.status = status;
    this.code = code(list[0]);
  }
}

function code(e) { return (e && e.extensions && e.extensions.code) || ''; }
function fieldOf(e) { return (e && e.extensions && e.extensions.field) || ''; }
function describe(e) { return code(e) ? `${e.message} (${code(e)})` : String(e.message); }
function errorText(err) { return err instanceof ApiError ? err.message : String((err && err.message) || err); }

// ---- HTTP --------------------------------------------------------------------------

const state = { key: null, viewer: null, view: null };

// gql posts one GraphQL document and returns its data; it throws an ApiError for any
// error. An UNAUTHENTICATED answer (the key was revoked or expired) signs out.
async function gql(query, variables = {}, { signingIn = false } = {}) {
  const key = state.key;
  let res;
  try {
    res = await fetch(API_URL, {
      method: 'POST', cache: 'no-store', credentials: 'omit',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${key}` },
      body: JSON.stringify({ query, variables }),
    });
  } catch (e) {
    throw new ApiError([{ message: `billd cannot be reached (${e.message})`, extensions: { code: 'NETWORK_ERROR' } }]);
  }
  let body;
  try {
    body = await res.json();
  } catch {
    throw new ApiError([{ message: `billd answered HTTP ${res.status} without a GraphQL response`,
      extensions: { code: `HTTP_${res.status}` } }], res.status);
  }
  if (body.errors && body.errors.length) {
    const err = new ApiError(body.errors, res.status);
    if (err.code === 'UNAUTHENTICATED' && !signingIn && key === state.key) {
      signOut(`Your API key was refused: ${err.message}. Sign in again.`);
    }
    throw err;
  }
  return body.data;
}

// ---- Subscriptions: graphql-transport-ws over one websocket ---------------------------

// Live is the page's one websocket. Subscriptions survive reconnects: after each
// connection_ack every active one is subscribed again (a run's stream starts again with
// its SNAPSHOT) and told so through its reconnected callback. A dropped connection is
// retried with exponential backoff (1 s doubling to 30 s, with jitter); a refused key
// signs out instead.
class Live {
  constructor() {
    this.ws = null;
    this.subs = new Map();
    this.nextId = 1;
    this.generation = 0; // one more per connection
    this.attempt = 0;
    this.acked = false;
    this.stopped = true;
    this.retryTimer = 0;
    this.ackTimer = 0;
  }

  start(key) {
    this.key = key;
    this.stopped = false;
    this.attempt = 0;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.ackTimer);
    clearInterval(this.countdown);
    this.subs.clear();
    if (this.ws) {
      this.ws.onclose = null;
      this.ws.close(1000, 'signed out');
      this.ws = null;
    }
    this.acked = false;
    setConnection('offline', 'Not connected');
  }

  connect() {
    if (this.stopped || this.ws) return;
    clearTimeout(this.retryTimer);
    this.acked = false;
    setConnection('connecting', 'Connecting…');
    this.generation++;
    let ws;
    try {
      ws = new WebSocket(WS_URL, 'graphql-transport-ws');
    } catch (e) {
      this.retry(`cannot open the websocket (${e.message})`);
      return;
    }
    this.ws = ws;
    ws.onopen = () => this.send({ type: 'connection_init', payload: { Authorization: `Bearer ${this.key}` } });
    ws.onmessage = (ev) => this.receive(ev.data);
    ws.onclose = (ev) => this.closed(ws, ev);
    ws.onerror = () => {}; // onclose follows and decides
    this.ackTimer = setTimeout(() => {
      if (this.ws === ws && !this.acked) ws.close(4408, 'connection_ack timeout');
    }, 15000);
  }

  send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  receive(data) {
    let m;
    try { m = JSON.parse(data); } catch { return; }
    const sub = m.id !== undefined ? this.subs.get(m.id) : undefined;
    switch (m.type) {
      case 'connection_ack':
        this.acked = true;
        this.attempt = 0;
        clearTimeout(this.ackTimer);
        setConnection('live', 'Live updates');
        for (const [id, s] of this.subs) {
          this.send({ id, type: 'subscribe', payload: { query: s.query, variables: s.variables } });
          if (s.started && s.reconnected) s.reconnected();
          s.started = true;
        }
        break;
      case 'ping':
        this.send({ type: 'pong', payload: m.payload });
        break;
      case 'next':
        if (!sub) break;
        if (m.payload && m.payload.errors && m.payload.errors.length) sub.error(new ApiError(m.payload.errors));
        else sub.next(m.payload.data);
        break;
      case 'error':
        if (!sub) break;
        this.subs.delete(m.id);
        sub.error(new ApiError(m.payload));
        break;
      case 'complete':
        if (!sub) break;
        if (sub.resubscribe && sub.resubscribe()) {
          // The server ended a stream that is not over for us (it completes every
          // subscription when it shuts down): subscribe again in a moment, on this
          // connection if it stays up, else on the next one.
          const gen = this.generation;
          clearTimeout(sub.timer);
          sub.timer = setTimeout(() => {
            if (this.subs.get(m.id) === sub && this.acked && this.generation === gen) {
              this.send({ id: m.id, type: 'subscribe', payload: { query: sub.query, variables: sub.variables } });
            }
          }, 1000);
          break;
        }
        this.subs.delete(m.id);
        if (sub.complete) sub.complete();
        break;
    }
  }

  closed(ws, ev) {
    if (this.ws !== ws) return;
    clearTimeout(this.ackTimer);
    this.ws = null;
    this.acked = false;
    if (this.stopped) return;
    const reason = ev.reason || '';
    if (reason.startsWith('UNAUTHENTICATED')) {
      signOut(`Your API key was refused: ${reason}. Sign in again.`);
      return;
    }
    this.retry(reason || `connection closed (code ${ev.code})`);
  }

  retry(why) {
    if (this.stopped) return;
    const delay = Math.min(30000, 1000 * 2 ** this.attempt) * (0.5 + Math.random() / 2);
    this.attempt++;
    const until = Date.now() + delay;
    const tick = () => {
      const left = Math.max(0, Math.ceil((until - Date.now()) / 1000));
      setConnection('down', `Live updates lost: ${why}. Retrying in ${left} s.`, `reconnecting in ${left} s`);
    };
    tick();
    clearInterval(this.countdown);
    this.countdown = setInterval(tick, 1000);
    this.retryTimer = setTimeout(() => {
      clearInterval(this.countdown);
      this.connect();
    }, delay);
  }

  // retryNow skips the backoff wait (the browser came back online).
  retryNow() {
    if (this.stopped || this.ws) return;
    clearInterval(this.countdown);
    this.connect();
  }

  // subscribe starts a subscription; sink has next(data), error(err), complete() and
  // optionally reconnected() (called after a reconnect: what happened meanwhile was
  // not streamed) and resubscribe() (asked when the server completes the stream: true
  // subscribes again). It returns the function that stops it.
  subscribe(query, variables, sink) {
    const id = String(this.nextId++);
    const s = { query, variables, started: false, ...sink };
    this.subs.set(id, s);
    if (this.acked) {
      this.send({ id, type: 'subscribe', payload: { query, variables } });
      s.started = true;
    } else {
      this.connect();
    }
    return () => {
      clearTimeout(s.timer);
      if (this.subs.delete(id) && this.acked) this.send({ id, type: 'complete' });
    };
  }
}

const live = new Live();
window.addEventListener('online', () => live.retryNow());

// ---- Small helpers ---------------------------------------------------------------------

const $ = (sel, root = document) => root.querySelector(sel);

// h builds an element: h('a', {href, class, text, 'data-testid': …}, ...children).
function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

const intFormat = new Intl.NumberFormat('en-US');
function fmtInt(n) { return intFormat.format(n || 0); }

// fmtAmount groups a decimal string's integer digits ("18000.00" → "18,000.00")
// without ever turning it into a float.
function fmtAmount(s) {
  const m = /^(-?)(\d+)(\.\d+)?$/.exec(String(s));
  if (!m) return String(s);
  return m[1] + m[2].replace(/\B(?=(\d{3})+(?!\d))/g, ',') + (m[3] || '');
}

function fmtTime(iso, style = 'medium') {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, { dateStyle: style, timeStyle: style });
}

function fmtDuration(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return '—';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

function fmtRate(r) {
  if (!Number.isFinite(r)) return '—';
  return `${r >= 100 ? Math.round(r) : r.toFixed(1)} accounts/s`;
}

function statusBadge(status, props = {}) {
  return h('span', { class: `badge s-${String(status).toLowerCase()}`, ...props, text: status.replaceAll('_', ' ') });
}

function setBadge(el, status) {
  el.className = `badge s-${String(status).toLowerCase()}`;
  el.textContent = status.replaceAll('_', ' ');
  el.dataset.status = status; // the raw value, for scripts
}

const RANK = { QUEUED: 0, RUNNING: 1 };
function rank(status) { return FINAL.has(status) ? 2 : (RANK[status] ?? 0); }

// mergeRun folds a newer view of a run into the one shown, ignoring views older than
// it (a query answer may arrive after the events that followed it).
function mergeRun(cur, next) {
  if (!cur) return { ...next };
  if (rank(next.status) < rank(cur.status)) return cur;
  if (rank(next.status) === rank(cur.status) && !FINAL.has(next.status) &&
      next.accountsProcessed < cur.accountsProcessed) return cur;
  return { ...cur, ...next };
}

function compareRuns(a, b) { // newest first
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? 1 : -1;
  const na = Number(a.id), nb = Number(b.id);
  if (Number.isFinite(na) && Number.isFinite(nb)) return nb - na;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

// frame coalesces renders: many events in one frame draw once.
function frame(fn) {
  let queued = false;
  return () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; fn(); });
  };
}

function banner(text) {
  const b = $('#banner');
  b.textContent = text || '';
  b.hidden = !text;
}

function setConnection(kind, title, label) {
  const c = $('#conn');
  if (!c) return;
  c.className = `conn c-${kind}`;
  c.textContent = label || { live: 'live', connecting: 'connecting…', offline: 'offline', down: 'reconnecting' }[kind];
  c.title = title;
  c.dataset.state = kind;
}

function mount(templateId) {
  const main = $('#main');
  main.replaceChildren($(`#${templateId}`).content.cloneNode(true));
  return main;
}

// ---- Session -----------------------------------------------------------------------

async function signIn(key) {
  state.key = key;
  let data;
  try {
    data = await gql(Q_VIEWER, {}, { signingIn: true });
  } catch (e) {
    state.key = null;
    throw e;
  }
  sessionStorage.setItem(KEY_STORAGE, key);
  state.viewer = data.viewer;
  $('#key-name').textContent = data.viewer.keyName;
  $('#role').textContent = data.viewer.role;
  $('#role').dataset.role = data.viewer.role;
  $('#partner').textContent = data.viewer.partner ? `· ${data.viewer.partner.name}` : '';
  $('#session').hidden = false;
  banner('');
  live.start(key);
  route();
}

function signOut(message) {
  sessionStorage.removeItem(KEY_STORAGE);
  state.key = null;
  state.viewer = null;
  disposeView();
  live.stop();
  $('#session').hidden = true;
  banner('');
  showSignIn(message);
}

function showSignIn(message) {
  document.title = 'billd · sign in';
  const root = mount('tpl-sign-in');
  const input = $('#api-key', root);
  const err = $('#sign-in-error', root);
  const button = $('[data-testid="sign-in"]', root);
  const show = (text) => { err.textContent = text || ''; err.hidden = !text; };
  show(message);
  input.focus();
  $('#sign-in-form', root).addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const key = input.value.trim();
    if (!key) { show('Enter an API key.'); return; }
    button.disabled = true;
    button.textContent = 'Signing in…';
    show('');
    try {
      await signIn(key);
    } catch (e) {
      show(errorText(e));
      button.disabled = false;
      button.textContent = 'Sign in';
      input.select();
    }
  });
}

// ---- Routing -----------------------------------------------------------------------

function disposeView() {
  if (state.view) state.view.dispose();
  state.view = null;
}

function route() {
  if (!state.key) return;
  disposeView();
  banner('');
  const m = /^#\/runs\/([^/?#]+)$/.exec(location.hash);
  state.view = m ? runView(decodeURIComponent(m[1])) : runsView();
  window.scrollTo(0, 0);
}

window.addEventListener('hashchange', route);

// ---- The runs list -------------------------------------------------------------------

function runsView() {
  document.title = 'billd · bill runs';
  const root = mount('tpl-runs');
  const runs = new Map();
  let totalCount = null;
  let loaded = false;
  let disposed = false;

  const render = frame(() => {
    if (disposed) return;
    const list = [...runs.values()].sort(compareRuns).slice(0, LIST_SIZE);
    $('#runs-body', root).replaceChildren(...list.map(runRow));
    $('#runs-empty', root).hidden = !loaded || list.length > 0;
    $('#runs-count', root).textContent = totalCount === null || totalCount === 0 ? ''
      : list.length >= totalCount ? `${fmtInt(totalCount)} in all` : `the ${fmtInt(list.length)} newest of ${fmtInt(totalCount)}`;
  });

  async function load() {
    try {
      const data = await gql(Q_RUNS, { last: LIST_SIZE });
      if (disposed) return;
      totalCount = data.billRuns.totalCount;
      for (const edge of data.billRuns.edges) {
        if (edge && edge.node) runs.set(edge.node.id, mergeRun(runs.get(edge.node.id), edge.node));
      }
      loaded = true;
      render();
    } catch (e) {
      if (!disposed && state.key) banner(`Could not list the bill runs: ${errorText(e)}`);
    }
  }

  const stop = live.subscribe(S_RUNS, {}, {
    next: (data) => {
      const r = data.billRunsChanged;
      if (!runs.has(r.id) && loaded && totalCount !== null) totalCount++;
      runs.set(r.id, mergeRun(runs.get(r.id), r));
      render();
    },
    error: (e) => banner(`Live run updates stopped: ${errorText(e)}`),
    reconnected: load, // changes made while disconnected were not streamed
    resubscribe: () => !disposed, // billRunsChanged has no end of its own
  });

  startForm(root);
  load();
  return { dispose() { disposed = true; stop(); } };
}

function runRow(r) {
  const pct = r.accountsTotal ? Math.min(100, (100 * r.accountsProcessed) / r.accountsTotal) : (FINAL.has(r.status) ? 100 : 0);
  const bar = h('span', { class: `mini-bar s-${r.status.toLowerCase()}`, role: 'progressbar', 'aria-label': `Run ${r.id} progress`,
    'aria-valuemin': 0, 'aria-valuenow': r.accountsProcessed, 'aria-valuemax': r.accountsTotal }, h('span', { class: 'mini-fill' }));
  bar.firstChild.style.width = `${pct}%`;
  const href = `#/runs/${encodeURIComponent(r.id)}`;
  return h('tr', { 'data-testid': `run-row-${r.id}`, 'data-run-id': r.id },
    h('td', {}, h('a', { href, text: `#${r.id}` })),
    h('td', {}, statusBadge(r.status)),
    h('td', { class: 'nowrap' }, `${r.periodStart} → ${r.periodEnd}`),
    h('td', { class: 'nowrap' }, bar, ` ${fmtInt(r.accountsProcessed)} / ${fmtInt(r.accountsTotal)}`),
    h('td', { class: r.accountsFailed ? 'num bad' : 'num', text: fmtInt(r.accountsFailed) }),
    h('td', { class: 'num', text: fmtInt(r.invoicesCreated) }),
    h('td', {}, r.totals.length ? r.totals.map((t) => h('div', { class: 'nowrap' },
      h('span', { class: 'amount', text: fmtAmount(t.amount) }), ' ', h('span', { class: 'currency', text: t.currency.code })))
      : h('span', { class: 'muted', text: '—' })),
    h('td', { class: 'nowrap', title: r.createdAt, text: fmtTime(r.createdAt, 'short') }),
  );
}

// ---- Starting a run ------------------------------------------------------------------

function isoDate(d) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

function startForm(root) {
  const form = $('#start-form', root);
  const role = state.viewer.role;
  if (!CAN_START.has(role)) {
    form.hidden = true;
    const denied = $('#start-denied', root);
    denied.textContent = `A ${role} key cannot start bill runs (ADMIN and OPERATOR keys can).`;
    denied.hidden = false;
    return;
  }
  const now = new Date();
  form.periodStart.value = isoDate(new Date(now.getFullYear(), now.getMonth(), 1));
  form.periodEnd.value = isoDate(new Date(now.getFullYear(), now.getMonth() + 1, 0));

  const formError = $('#start-error', root);
  const button = $('#start-run', root);
  const clear = () => {
    for (const p of form.querySelectorAll('[data-error-for]')) { p.hidden = true; p.textContent = ''; }
    for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
    formError.hidden = true;
    formError.textContent = '';
  };
  const fieldError = (name, text) => {
    const p = form.querySelector(`[data-error-for="${name}"]`);
    p.textContent = p.textContent ? `${p.textContent}; ${text}` : text;
    p.hidden = false;
    form[name].setAttribute('aria-invalid', 'true');
  };

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clear();
    let missing = false;
    for (const name of ['periodStart', 'periodEnd']) {
      if (!form[name].value) {
        fieldError(name, form[name].validity.badInput ? 'not a valid date' : 'required');
        missing = true;
      }
    }
    if (missing) return;
    const input = { periodStart: form.periodStart.value, periodEnd: form.periodEnd.value,
      closeInvoices: form.closeInvoices.checked };
    if (form.postingDate.value) input.postingDate = form.postingDate.value;
    const ids = form.accountIds.value.split(/[\s,;]+/).filter(Boolean);
    if (ids.length) input.accountIds = ids;

    button.disabled = true;
    button.textContent = 'Starting…';
    try {
      const data = await gql(M_START, { input });
      location.hash = `#/runs/${encodeURIComponent(data.startBillRun.id)}`;
    } catch (e) {
      if (!(e instanceof ApiError)) { formError.textContent = errorText(e); formError.hidden = false; return; }
      for (const err of e.errors) {
        // extensions.field is a path such as input.periodEnd or input.accountIds.2.
        const name = String(fieldOf(err)).split(/[.[\]]/).reverse().find((s) => FORM_FIELDS.includes(s));
        if (name) fieldError(name, describe(err));
        else {
          formError.textContent = formError.textContent ? `${formError.textContent}; ${describe(err)}` : describe(err);
          formError.hidden = false;
        }
      }
      const first = form.querySelector('[aria-invalid]');
      if (first) first.focus();
    } finally {
      button.disabled = false;
      button.textContent = 'Start bill run';
    }
  });
}

// ---- One run ---------------------------------------------------------------------------

function runView(id) {
  const root = mount('tpl-run');
  const el = (sel) => $(sel, root);
  let run = null;
  let disposed = false;
  let missing = false;
  let finished = false; // FINISHED was received: the stream is over
  const failures = new Map(); // account id + message → {account, message}
  const samples = []; // {t: ms, n: processed} as events arrive, for rate and ETA
  document.title = `billd · run #${id}`;
  el('#run-id').textContent = `#${id}`;

  const addFailure = (account, message) => {
    const key = `${account ? account.id : '?'}\u0000${message}`;
    if (!failures.has(key)) failures.set(key, { account, message });
  };

  const render = frame(() => {
    if (disposed || !run) return;
    const r = run;
    const final = FINAL.has(r.status);
    document.title = `billd · run #${r.id} · ${r.status}`;
    setBadge(el('#run-status'), r.status);
    el('#run-period').textContent = `Period ${r.periodStart} → ${r.periodEnd}`;

    const bar = el('#progress');
    bar.setAttribute('aria-valuenow', String(r.accountsProcessed));
    bar.setAttribute('aria-valuemax', String(r.accountsTotal));
    bar.setAttribute('aria-valuetext', `${r.accountsProcessed} of ${r.accountsTotal} accounts`);
    bar.className = `progress s-${r.status.toLowerCase()}`;
    const pct = r.accountsTotal ? Math.min(100, (100 * r.accountsProcessed) / r.accountsTotal) : (final ? 100 : 0);
    el('#progress-fill').style.width = `${pct}%`;
    el('#processed').textContent = fmtInt(r.accountsProcessed);
    el('#total').textContent = fmtInt(r.accountsTotal);
    el('#percent').textContent = `(${Math.floor(pct)} %)`;

    const { rate, eta } = speed(r, final);
    el('#rate').textContent = fmtRate(rate);
    el('#eta').textContent = eta;
    el('#failed').textContent = fmtInt(r.accountsFailed);
    el('#failed').classList.toggle('bad', r.accountsFailed > 0);
    el('#invoices').textContent = fmtInt(r.invoicesCreated);
    el('#charges').textContent = fmtInt(r.chargesCreated);
    el('#posting').textContent = r.postingDate || '—';
    for (const [sel, t] of [['#created', r.createdAt], ['#started', r.startedAt], ['#finished', r.finishedAt]]) {
      el(sel).textContent = fmtTime(t);
      el(sel).title = t || '';
    }

    el('#totals').replaceChildren(...r.totals.map((t) => h('li',
      { 'data-testid': `total-${t.currency.code}`, 'data-currency': t.currency.code, 'data-amount': t.amount },
      h('span', { class: 'amount', 'data-testid': `total-${t.currency.code}-amount`, text: fmtAmount(t.amount) }),
      h('span', { class: 'currency', text: t.currency.code }))));
    el('#totals-empty').hidden = r.totals.length > 0;
    el('#totals-empty').textContent = final ? 'Nothing was billed.' : 'Nothing billed yet.';

    const list = [...failures.values()];
    el('#failures-count').textContent = r.accountsFailed ? `(${fmtInt(r.accountsFailed)})` : '';
    el('#failures-empty').hidden = list.length > 0 || r.accountsFailed > 0;
    el('#failures-table').hidden = list.length === 0;
    el('#failures-body').replaceChildren(...list.slice(0, FAILURES_SHOWN).map((f) => h('tr', { 'data-testid': 'failure' },
      h('td', {}, f.account ? `${f.account.name} ` : '?', f.account ? h('span', { class: 'muted', text: `#${f.account.id}` }) : null),
      h('td', { class: 'reason', text: f.message }))));
    const more = Math.max(list.length, r.accountsFailed) - Math.min(list.length, FAILURES_SHOWN);
    el('#failures-more').hidden = more <= 0;
    el('#failures-more').textContent = more > 0 ? `…and ${fmtInt(more)} more.` : '';

    el('#cancel-run').hidden = final || !CAN_START.has(state.viewer.role);
  });

  // speed gives the rate over the last 20 s of events and the time left at that
  // rate; once the run is over, its average rate.
  function speed(r, final) {
    const first = samples[0], last = samples[samples.length - 1];
    let rate = NaN;
    if (samples.length >= 2 && last.t - first.t >= 250) rate = ((last.n - first.n) * 1000) / (last.t - first.t);
    if (final) {
      if (!(rate > 0) && r.startedAt && r.finishedAt) {
        const secs = (Date.parse(r.finishedAt) - Date.parse(r.startedAt)) / 1000;
        if (secs > 0) rate = r.accountsProcessed / secs;
      }
      return { rate, eta: r.status === 'COMPLETED' || r.status === 'COMPLETED_WITH_ERRORS' ? 'done' : '—' };
    }
    if (r.status === 'QUEUED') return { rate, eta: 'waiting for a worker' };
    if (!(rate > 0)) return { rate, eta: 'measuring…' };
    const left = (r.accountsTotal - r.accountsProcessed) / rate;
    const at = new Date(Date.now() + left * 1000).toLocaleTimeString(undefined, { timeStyle: 'short' });
    return { rate, eta: `${fmtDuration(left)} (about ${at})` };
  }

  function apply(next) {
    const before = run;
    run = mergeRun(run, next);
    if (run !== before && (!before || run.accountsProcessed !== before.accountsProcessed || FINAL.has(run.status))) {
      samples.push({ t: performance.now(), n: run.accountsProcessed });
      const now = samples[samples.length - 1].t;
      while (samples.length > 2 && now - samples[0].t > 20000) samples.shift();
    }
    render();
  }

  async function loadErrors() {
    try {
      const data = await gql(Q_RUN, { id });
      if (disposed) return;
      if (!data.node || data.node.__typename !== 'BillRun') {
        missing = true;
        banner(`There is no bill run ${id} that this key can see.`);
        return;
      }
      for (const { node: e } of data.node.errorsConnection.edges) addFailure(e.account, e.message);
      const { errorsConnection, __typename, ...fields } = data.node;
      apply(fields);
    } catch (e) {
      if (!disposed && state.key) banner(`Could not load run ${id}: ${errorText(e)}`);
    }
  }

  const stop = live.subscribe(S_PROGRESS, { id }, {
    next: (data) => {
      const ev = data.billRunProgress;
      if (ev.kind === 'FINISHED') finished = true;
      if (ev.kind === 'ACCOUNT_FAILED') addFailure(ev.account, ev.message);
      apply(ev.billRun);
      // Failures recorded before this page opened, or while it was disconnected.
      if (ev.kind === 'FINISHED' && ev.billRun.accountsFailed > failures.size) loadErrors();
    },
    error: (e) => { if (!missing) banner(`Following run ${id} stopped: ${errorText(e)}`); },
    complete: () => {},
    // A stream the server ends before FINISHED (it is shutting down) is not over.
    resubscribe: () => !disposed && !finished,
  });

  el('#cancel-run').addEventListener('click', async () => {
    if (!confirm(`Cancel bill run #${id}? Batches being billed finish; the rest are skipped.`)) return;
    const button = el('#cancel-run');
    button.disabled = true;
    try {
      const data = await gql(M_CANCEL, { id });
      apply(data.cancelBillRun);
    } catch (e) {
      banner(`Could not cancel run ${id}: ${errorText(e)}`);
    } finally {
      button.disabled = false;
    }
  });

  loadErrors();
  return { dispose() { disposed = true; stop(); } };
}

// ---- Start -----------------------------------------------------------------------------

async function boot() {
  $('#sign-out').addEventListener('click', (ev) => {
    ev.preventDefault();
    signOut();
  });
  const key = sessionStorage.getItem(KEY_STORAGE);
  if (!key) {
    showSignIn();
    return;
  }
  try {
    await signIn(key);
  } catch (e) {
    if (e instanceof ApiError && e.code === 'UNAUTHENTICATED') sessionStorage.removeItem(KEY_STORAGE);
    showSignIn(errorText(e));
  }
}

boot();
