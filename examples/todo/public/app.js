// The To-Do app: sign in with Auth0 (auth0-spa-js, authorization code flow with PKCE), trade the
// ID token for a RestKube token at /auth/token, and keep private tasks in the collection
// `tasks`. No framework and no inline script, so the page runs under a strict
// Content-Security-Policy. Settings come from config.json (see config.example.json).
import { createAuth0Client } from './auth0-spa-js.production.esm.js';

const SESSION_KEY = 'restkube.todo.session';
const COLLECTION = 'tasks';
const REFRESH_AT = 0.75; // refresh the RestKube token when this share of its lifetime has passed

const $ = (id) => document.getElementById(id);

let cfg; // {auth0: {domain, clientId}, database, realtime}
let base; // the database URL without a trailing slash
let auth0; // the Auth0 client
let session = null; // {token, iat, exp, skew, idsub}: the RestKube token and whose it is
let refreshTimer = null;
let refreshing = null; // the refresh in flight, shared by concurrent callers
let events = null; // the realtime EventSource
let eventsRetry = null;
let eventsBackoff = 5000; // ms before reconnecting after a refusal; doubles up to a minute
let reloadTimer = null;

// The app's own URL, registered at Auth0 as callback, logout and web origin URL.
const appURL = () => location.origin + location.pathname;

async function main() {
  wire();
  try {
    cfg = await loadConfig();
    base = cfg.database.replace(/\/+$/, '');
    auth0 = await createAuth0Client({
      domain: cfg.auth0.domain,
      clientId: cfg.auth0.clientId,
      authorizationParams: { redirect_uri: appURL() },
    });
    const q = new URLSearchParams(location.search);
    if (q.has('state') && (q.has('code') || q.has('error'))) {
      try {
        await auth0.handleRedirectCallback();
      } finally {
        history.replaceState(null, '', appURL()); // the code is single-use: drop it from the URL
      }
    }
    if (await auth0.isAuthenticated()) {
      await signedIn();
    } else {
      signedOut();
    }
  } catch (e) {
    signedOut();
    fail(e);
  }
}

async function loadConfig() {
  const res = await fetch('config.json', { cache: 'no-store' });
  if (!res.ok) throw new Error('config.json is missing: copy config.example.json and fill it in');
  const c = await res.json();
  if (!c?.auth0?.domain || !c?.auth0?.clientId || !c?.database) {
    throw new Error('config.json needs auth0.domain, auth0.clientId and database');
  }
  return c;
}

function wire() {
  $('login').addEventListener('click', () => {
    if (!auth0) return fail(new Error('The page could not start: see the message above and config.json'));
    auth0.loginWithRedirect().catch(fail);
  });
  $('logout').addEventListener('click', () => logout().catch(fail));
  $('add-form').addEventListener('submit', (e) => {
    e.preventDefault();
    addTask().catch(fail);
  });
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && session) loadTasks().catch(fail);
  });
}

// ---- Session: the RestKube token ----

async function signedIn() {
  const claims = await auth0.getIdTokenClaims();
  session = loadSession();
  // A stored token of this Auth0 user, with time left, is reused across reloads.
  if (!session || session.idsub !== claims.sub || Date.now() >= refreshAt(session)) {
    session = await tradeIdToken(claims);
  }
  scheduleRefresh();
  const me = await api('GET', '/auth/userinfo');
  showUser(me, claims);
  setState('signed-in');
  await loadTasks();
  startRealtime();
}

function signedOut() {
  session = null;
  clearSession();
  setState('signed-out');
}

// tradeIdToken exchanges Auth0's ID token for a RestKube token (POST /auth/token {"code": …}).
async function tradeIdToken(claims) {
  const t = await postToken({ code: claims.__raw });
  return saveSession(t, claims.sub);
}

// refresh exchanges the current token for a new one (POST /auth/token {"refresh": …});
// the old one is revoked by the server. Concurrent callers share one exchange.
function refresh() {
  if (!refreshing) {
    refreshing = (async () => {
      try {
        const t = await postToken({ refresh: session.token });
        session = saveSession(t, session.idsub);
      } catch (e) {
        await recover(); // the token was refused: start again from the Auth0 session
      }
      scheduleRefresh();
      startRealtime(); // the stream authenticated with the old token
    })().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

// recover gets a new RestKube token from a fresh ID token; without an Auth0 session, it signs out.
async function recover() {
  try {
    await auth0.getTokenSilently({ cacheMode: 'off' });
    const claims = await auth0.getIdTokenClaims();
    session = await tradeIdToken(claims);
  } catch (e) {
    stopRealtime();
    signedOut();
    throw new Error('Your session has ended. Please log in again.');
  }
}

async function postToken(body) {
  const res = await fetch(base + '/auth/token', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  const data = await res.json().catch(() => null);
  if (!res.ok || !data?.token) throw apiError(res, data);
  return data;
}

function saveSession(t, idsub) {
  // skew maps the server's clock onto ours, so that timing survives a wrong local clock.
  const s = { token: t.token, iat: t.iat, exp: t.exp, skew: Date.now() / 1000 - t.iat, idsub };
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(s));
  return s;
}

function loadSession() {
  try {
    const s = JSON.parse(sessionStorage.getItem(SESSION_KEY));
    return s && typeof s.token === 'string' ? s : null;
  } catch {
    return null;
  }
}

function clearSession() {
  sessionStorage.removeItem(SESSION_KEY);
}

// refreshAt is when (local ms) the token of s should be refreshed.
const refreshAt = (s) => (s.iat + s.skew + (s.exp - s.iat) * REFRESH_AT) * 1000;

function scheduleRefresh() {
  clearTimeout(refreshTimer);
  if (!session) return;
  const delay = Math.max(1000, refreshAt(session) - Date.now());
  refreshTimer = setTimeout(() => refresh().catch(fail), delay);
}

async function logout() {
  stopRealtime();
  clearTimeout(refreshTimer);
  const s = session;
  signedOut();
  if (s) {
    // Revoke the RestKube token first: it must not outlive the sign-out.
    await fetch(base + '/auth/logout', { method: 'POST', headers: { Authorization: 'Bearer ' + s.token } }).catch(() => {});
  }
  await auth0.logout({ logoutParams: { returnTo: appURL() } });
}

// ---- The REST API ----

async function api(method, path, body, retry = true) {
  if (!session) throw new Error('not signed in');
  // A timer may have slept (a background tab): refresh before using a token near its end.
  if (Date.now() >= refreshAt(session)) await refresh();
  const headers = { Authorization: 'Bearer ' + session.token };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await res.json().catch(() => null);
  if (res.status === 401 && retry) {
    await recover();
    return api(method, path, body, false);
  }
  if (!res.ok) throw apiError(res, data);
  return data;
}

function apiError(res, data) {
  return new Error(data?.message ? `${data.message} (${res.status})` : `HTTP ${res.status}`);
}

// ---- Tasks ----

async function loadTasks() {
  const tasks = await api('GET', `/rest/${COLLECTION}?sort=_id`);
  renderTasks(Array.isArray(tasks) ? tasks : []);
}

async function addTask() {
  const input = $('new-title');
  const title = input.value.trim();
  if (!title) return;
  $('add').disabled = true;
  try {
    await api('POST', `/rest/${COLLECTION}`, { title, done: false });
    input.value = '';
    await loadTasks();
  } finally {
    $('add').disabled = false;
    input.focus();
  }
}

async function setDone(id, done) {
  await api('PUT', `/rest/${COLLECTION}/${encodeURIComponent(id)}`, { done });
  await loadTasks();
}

async function deleteTask(id) {
  await api('DELETE', `/rest/${COLLECTION}/${encodeURIComponent(id)}`);
  await loadTasks();
}

function renderTasks(tasks) {
  const list = $('tasks');
  list.replaceChildren(
    ...tasks.map((t) => {
      const li = document.createElement('li');
      li.className = 'task' + (t.done ? ' done' : '');
      li.dataset.id = t._id;
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.checked = !!t.done;
      box.setAttribute('aria-label', 'Done');
      box.addEventListener('change', () => setDone(t._id, box.checked).catch(fail));
      const title = document.createElement('span');
      title.className = 'title';
      title.textContent = String(t.title ?? '');
      const del = document.createElement('button');
      del.type = 'button';
      del.className = 'delete';
      del.textContent = '×';
      del.title = 'Delete';
      del.setAttribute('aria-label', 'Delete ' + title.textContent);
      del.addEventListener('click', () => deleteTask(t._id).catch(fail));
      li.append(box, title, del);
      return li;
    }),
  );
  const done = tasks.filter((t) => t.done).length;
  $('empty').hidden = tasks.length > 0;
  $('counts').textContent = `${tasks.length - done} open · ${done} done`;
}

// ---- Realtime: reload the list when tasks change elsewhere ----

function startRealtime() {
  stopRealtime();
  if (!cfg.realtime || !session) return;
  events = new EventSource(base + '/realtime?access_token=' + encodeURIComponent(session.token));
  const onChange = (e) => {
    let d = null;
    try {
      d = JSON.parse(e.data);
    } catch {
      /* not JSON: reload anyway */
    }
    if (!d?.collection || d.collection === COLLECTION) {
      clearTimeout(reloadTimer);
      reloadTimer = setTimeout(() => loadTasks().catch(fail), 100); // one reload per burst
    }
  };
  for (const type of ['post', 'put', 'delete']) events.addEventListener(type, onChange);
  events.addEventListener('open', () => {
    eventsBackoff = 5000;
    $('live').hidden = false;
  });
  events.addEventListener('error', () => {
    $('live').hidden = true;
    // The browser reconnects by itself unless the server refused us; then try again later.
    if (events?.readyState === EventSource.CLOSED) {
      eventsRetry = setTimeout(startRealtime, eventsBackoff);
      eventsBackoff = Math.min(eventsBackoff * 2, 60000);
    }
  });
}

function stopRealtime() {
  clearTimeout(eventsRetry);
  if (events) events.close();
  events = null;
  $('live').hidden = true;
}

// ---- View ----

function setState(state) {
  document.body.dataset.state = state;
  $('loading').hidden = state !== 'loading';
  $('signed-out').hidden = state !== 'signed-out';
  $('tasks-card').hidden = state !== 'signed-in';
  $('user').hidden = state !== 'signed-in';
  if (state !== 'signed-in') $('tasks').replaceChildren();
}

// showUser shows the name and picture of /auth/userinfo (falling back to the ID token's).
function showUser(me, claims) {
  const name = me.displayname || claims.name || me.email || 'You';
  $('user-name').textContent = name;
  const pic = me.image || claims.picture || '';
  const img = $('user-picture');
  const initials = $('user-initials');
  // Only pictures that cannot carry script into the page: https images and data: images.
  if (/^(https:\/\/|data:image\/)/.test(pic)) {
    img.src = pic;
    img.alt = name;
    img.hidden = false;
    initials.hidden = true;
  } else {
    initials.textContent = name.slice(0, 1).toUpperCase();
    img.hidden = true;
    initials.hidden = false;
  }
}

function fail(e) {
  console.error(e);
  const box = $('error');
  box.textContent = e?.message || String(e);
  box.hidden = false;
  clearTimeout(fail.timer);
  fail.timer = setTimeout(() => {
    box.hidden = true;
  }, 8000);
}

main();
