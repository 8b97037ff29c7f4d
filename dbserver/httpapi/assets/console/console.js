// RestKube console: a small single-page app over the public API. It holds the full-access
// key (sent as the x-apikey header), or an external user's RestKube token (sent as a Bearer
// token), in this tab's session storage only; neither is ever put in a URL. No framework,
// no build step.
"use strict";
(function () {
  const KEY = "restkube.console.apikey";
  const TOKEN = "restkube.console.token"; // an external user's RestKube token (instead of KEY)
  const USER = "restkube.console.user";   // that user: email, roles, token lifetime
  const OIDC = "restkube.console.oidc";   // the state of a login started in this tab
  const LOGIN_MAX_AGE = 10 * 60 * 1000;   // a login answer older than this is refused
  const SYSTEM = ["_id", "_created", "_changed", "_createdby", "_changedby", "_version", "_parent_id", "_parent_def", "_parent_field"];
  const BULK_CHUNK = 50;
  const state = { lists: {}, media: [] }; // per collection: q, sort, dir, max, skip, mode, selected
  const $ = (id) => document.getElementById(id);

  // el builds an element: el("button", {type: "button", onclick: f}, "text", child...).
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  // ---- API ----------------------------------------------------------------------------
  class ApiError extends Error {
    constructor(status, name, message, list) {
      super(message);
      this.status = status; this.name = name || "Error"; this.list = list || [];
    }
    describe() {
      let s = "Error " + this.status + (this.name && this.name !== "Error" ? " (" + this.name + ")" : "") + ": " + this.message;
      if (this.list.length) s += " — " + this.list.map((x) => typeof x === "string" ? x : JSON.stringify(x)).join("; ");
      return s;
    }
  }

  // credentials returns the header that carries this tab's credentials: the full-access key as
  // x-apikey, or an external user's RestKube token as a Bearer token.
  function credentials() {
    const tok = sessionStorage.getItem(TOKEN);
    if (tok) return { authorization: "Bearer " + tok };
    return { "x-apikey": sessionStorage.getItem(KEY) || "" };
  }

  async function api(method, path, opts) {
    opts = opts || {};
    const headers = opts.anonymous ? {} : credentials();
    if (opts.body !== undefined) headers["content-type"] = "application/json";
    Object.assign(headers, opts.headers || {});
    let resp;
    try {
      resp = await fetch(path, { method, headers, cache: "no-store", credentials: "omit", body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
    } catch (e) {
      throw new ApiError(0, "NetworkError", "the server could not be reached (" + e.message + ")");
    }
    const text = await resp.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
    if (!resp.ok) {
      const err = data && typeof data === "object" && !Array.isArray(data)
        ? new ApiError(data.status || resp.status, data.name || resp.statusText, data.message || resp.statusText, data.list)
        : new ApiError(resp.status, resp.statusText, (text || resp.statusText).slice(0, 300));
      if (resp.status === 401) { signOut(); }
      throw err;
    }
    return data;
  }

  const enc = encodeURIComponent;
  const collPath = (c) => "/rest/" + enc(c);
  const docPath = (c, id) => "/rest/" + enc(c) + "/" + enc(id);

  // ---- messages -----------------------------------------------------------------------
  let saidAt = 0;
  function say(kind, text, ...extra) {
    saidAt = Date.now();
    const m = $("message");
    m.className = kind;
    m.replaceChildren(text, ...extra);
    m.hidden = false;
  }
  function clearMessage() { const m = $("message"); m.hidden = true; m.replaceChildren(); }
  function fail(err) {
    if (err instanceof ApiError) {
      if (err.status === 401) say("error", "Signed out: the server refused the key (" + err.message + "). Sign in again.");
      else say("error", err.describe());
    } else say("error", String(err && err.message ? err.message : err));
  }

  // ---- sign-in ------------------------------------------------------------------------
  function signedIn() { return !!sessionStorage.getItem(KEY) || !!sessionStorage.getItem(TOKEN); }
  function currentUser() {
    try { return JSON.parse(sessionStorage.getItem(USER) || "null"); } catch (e) { return null; }
  }
  function signOut() {
    stopFeed();
    clearTimeout(refreshTimer);
    sessionStorage.removeItem(KEY);
    sessionStorage.removeItem(TOKEN);
    sessionStorage.removeItem(USER);
    state.lists = {};
    state.media = [];
    showSignin();
  }
  function showSignin() {
    $("nav").hidden = true;
    $("view").hidden = true;
    $("view").replaceChildren();
    $("signin").hidden = false;
    $("apikey").focus();
  }
  async function onSignin(ev) {
    ev.preventDefault();
    const key = $("apikey").value.trim();
    if (!key) return;
    sessionStorage.removeItem(TOKEN);
    sessionStorage.removeItem(USER);
    sessionStorage.setItem(KEY, key);
    try {
      await api("GET", "/rest/_meta");
    } catch (err) {
      sessionStorage.removeItem(KEY);
      if (err instanceof ApiError && err.status === 401) say("error", "Sign-in failed: " + err.message + ".");
      else fail(err);
      return;
    }
    $("apikey").value = "";
    clearMessage();
    if (!location.hash || location.hash === "#") location.hash = "#/";
    route();
  }


  // ---- sign-in of external users -----------------------------------------------------
  // The authorization code flow with PKCE: the browser goes to the identity provider (the
  // same Auth0/OIDC login as the apps) and comes back to /console/ with a code, which the
  // dbserver exchanges at POST /auth/token with its client secret and this tab's
  // code_verifier; the code is removed from the address bar at once, and state ties the
  // answer to the login this tab started. The console then works with the user's RestKube token, so it shows and
  // changes only what the user's roles allow. console.roles decides who is offered it; the
  // API decides, on every call, what they may do.
  let signin = { external: null }; // GET /console/signin.json
  let refreshTimer = null;

  async function loadSignIn() {
    try {
      const r = await fetch("signin.json", { cache: "no-store", credentials: "omit" });
      if (r.ok) signin = await r.json();
    } catch (e) { signin = { external: null }; }
    const ext = signin && signin.external;
    $("external-signin").hidden = !ext;
    if (!ext) return;
    const btn = $("signin-external");
    if (ext.error || !ext.authorizeURL) {
      btn.disabled = true;
      $("external-note").textContent = "Signing in as a user is not possible now: " + (ext.error || "no identity provider") + ".";
    } else {
      btn.disabled = false;
      $("external-note").textContent = "For users with the role " + ext.roles.join(" or ") + ", at " + new URL(ext.authorizeURL).host + ". You see and change only what your roles allow.";
    }
  }

  function randomState() {
    const b = new Uint8Array(32);
    crypto.getRandomValues(b);
    return btoa(String.fromCharCode(...b)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  const redirectURI = () => location.origin + "/console/";

  async function startExternal() {
    const ext = signin.external;
    const st = randomState();
    // PKCE (RFC 7636): only this tab knows the verifier, so a code taken from elsewhere and
    // slipped into this page cannot be redeemed; the dbserver passes it to the provider.
    const verifier = randomState();
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
    const challenge = btoa(String.fromCharCode(...digest)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    sessionStorage.setItem(OIDC, JSON.stringify({ state: st, verifier, at: Date.now(), hash: location.hash }));
    const u = new URL(ext.authorizeURL);
    for (const [k, v] of Object.entries({
      response_type: "code", response_mode: "query", client_id: ext.clientID, redirect_uri: redirectURI(),
      scope: "openid profile email", state: st, code_challenge: challenge, code_challenge_method: "S256",
    })) u.searchParams.set(k, v);
    location.assign(u.toString());
  }

  // finishExternal completes a login when the provider sent the browser back here.
  async function finishExternal() {
    const q = new URLSearchParams(location.search);
    if (!q.has("code") && !q.has("error")) return;
    history.replaceState(null, "", location.pathname + location.hash); // the code leaves the address bar and history
    let pending = null;
    try { pending = JSON.parse(sessionStorage.getItem(OIDC) || "null"); } catch (e) { pending = null; }
    sessionStorage.removeItem(OIDC);
    if (!pending || q.get("state") !== pending.state || Date.now() - pending.at > LOGIN_MAX_AGE) {
      say("error", "Sign-in refused: this answer from the identity provider does not belong to a sign-in started in this tab (or it is too old). Start again.");
      return;
    }
    if (q.has("error")) {
      say("error", "The identity provider did not sign you in: " + (q.get("error_description") || q.get("error")) + ".");
      return;
    }
    let tok;
    try {
      tok = await api("POST", "/auth/token", { body: { code: q.get("code"), redirect_uri: redirectURI(), code_verifier: pending.verifier }, anonymous: true });
    } catch (err) {
      say("error", "Sign-in failed: " + (err instanceof ApiError ? err.describe() : String(err)));
      return;
    }
    await acceptToken(tok);
    if (signedIn() && pending.hash) location.hash = pending.hash;
  }

  // acceptToken checks the user's roles against console.roles and keeps the token.
  async function acceptToken(tok) {
    sessionStorage.removeItem(KEY);
    sessionStorage.setItem(TOKEN, tok.token);
    let info;
    try {
      info = await api("GET", "/auth/userinfo");
    } catch (err) {
      sessionStorage.removeItem(TOKEN);
      say("error", "Sign-in failed: " + (err instanceof ApiError ? err.describe() : String(err)));
      return;
    }
    const roles = Array.isArray(info.roles) ? info.roles : [];
    const allowed = (signin.external && signin.external.roles) || [];
    if (!roles.some((r) => allowed.includes(r))) {
      await revoke();
      sessionStorage.removeItem(TOKEN);
      say("error", "Signed in as " + (info.email || info._id) + ", but the console is for the role " + allowed.join(" or ") +
        " and your roles are " + (roles.length ? roles.join(", ") : "none") + ". Ask an administrator, or use the apps you have access to.");
      return;
    }
    sessionStorage.setItem(USER, JSON.stringify({ email: info.email || info._id, name: info.displayname || "", roles, life: (tok.exp - tok.iat) * 1000, received: Date.now() }));
    clearMessage();
    scheduleRefresh();
  }

  // revoke logs the token out at the dbserver (best effort: it expires anyway).
  async function revoke() {
    const tok = sessionStorage.getItem(TOKEN);
    if (!tok) return;
    try { await fetch("/auth/logout", { method: "POST", headers: { authorization: "Bearer " + tok }, cache: "no-store", credentials: "omit" }); } catch (e) { /* gone anyway */ }
  }

  // scheduleRefresh trades the token for a fresh one when four fifths of its life are over
  // (measured on this browser's clock from when it arrived, so clock skew does not matter).
  function scheduleRefresh() {
    clearTimeout(refreshTimer);
    const u = currentUser();
    if (!u || !sessionStorage.getItem(TOKEN)) return;
    const due = Math.max(5000, u.received + u.life * 0.8 - Date.now());
    refreshTimer = setTimeout(async () => {
      try {
        const tok = await api("POST", "/auth/token", { body: { refresh: sessionStorage.getItem(TOKEN) }, anonymous: true });
        sessionStorage.setItem(TOKEN, tok.token);
        sessionStorage.setItem(USER, JSON.stringify(Object.assign(currentUser() || {}, { life: (tok.exp - tok.iat) * 1000, received: Date.now() })));
        scheduleRefresh();
      } catch (err) {
        signOut();
        say("error", "Your session ended (" + (err instanceof ApiError ? err.describe() : String(err)) + "). Sign in again.");
      }
    }, due);
  }

  // ---- routing ------------------------------------------------------------------------
  function route() {
    if (!signedIn()) { showSignin(); return; }
    $("signin").hidden = true;
    $("nav").hidden = false;
    const u = currentUser();
    $("who").textContent = u ? u.email + " (" + u.roles.join(", ") + ")" : "full-access key";
    // Backups are for the full-access key only: a user is not offered them.
    $("nav-backups").hidden = !!u;
    $("view").hidden = false;
    const parts = (location.hash.replace(/^#\/?/, "") || "").split("/").map(decodeURIComponent);
    $("nav-collections").removeAttribute("aria-current");
    $("nav-users").removeAttribute("aria-current");
    $("nav-media").removeAttribute("aria-current");
    $("nav-feed").removeAttribute("aria-current");
    $("nav-backups").removeAttribute("aria-current");
    if (parts[0] !== "feed") stopFeed();
    if (parts[0] === "feed") { $("nav-feed").setAttribute("aria-current", "page"); return showFeed(); }
    if (parts[0] === "backups") { $("nav-backups").setAttribute("aria-current", "page"); return showBackups(); }
    if (parts[0] === "media") { $("nav-media").setAttribute("aria-current", "page"); return showMedia(); }
    if (parts[0] === "users") { $("nav-users").setAttribute("aria-current", "page"); return showUsers(); }
    $("nav-collections").setAttribute("aria-current", "page");
    if (parts[0] === "c" && parts[1]) {
      if (parts[2] === "new") return showEditor(parts[1], null);
      if (parts[2] === "edit" && parts[3]) return showEditor(parts[1], parts[3]);
      return showList(parts[1]);
    }
    return showCollections();
  }
  function go(hash) { if (location.hash === hash) route(); else location.hash = hash; }
  function setView(...children) {
    const v = $("view");
    v.replaceChildren(...children);
    v.dataset.view = children.length && children[0].dataset ? (children[0].dataset.name || "") : "";
  }

  // ---- collections --------------------------------------------------------------------
  async function showCollections() {
    let meta;
    try { meta = await api("GET", "/rest/_meta"); } catch (err) { fail(err); return; }
    const rows = meta.map((m) => {
      const count = el("td", { class: "num", "data-count": m.name }, "…");
      api("GET", collPath(m.name) + "?totals=true&max=1&h=" + enc(JSON.stringify({ $fields: { _id: 1 } })))
        .then((r) => { count.textContent = String(r.totals.total); })
        .catch(() => { count.textContent = "?"; });
      return el("tr", {},
        el("td", {}, el("a", { href: m.name === "users" ? "#/users" : "#/c/" + enc(m.name) }, m.name)),
        count,
        el("td", {}, m.indexes.length ? m.indexes.map((i) => el("span", { class: "pill" }, i)) : el("span", { class: "muted" }, "none")),
        el("td", {}, m.private ? "private" : "shared", m.system ? el("span", { class: "pill" }, "system") : null));
    });
    const name = el("input", { id: "open-name", name: "collection", required: true, pattern: "[A-Za-z][A-Za-z0-9_\\-]{0,63}", placeholder: "e.g. orders" });
    const open = el("form", { class: "toolbar", onsubmit: (ev) => { ev.preventDefault(); if (name.value) go("#/c/" + enc(name.value.trim())); } },
      el("div", { class: "field" }, el("label", { for: "open-name" }, "Open or start a collection"), name),
      el("button", { type: "submit" }, "Open"));
    setView(el("div", { "data-name": "collections" },
      el("h1", {}, "Collections"),
      open,
      el("table", { "aria-label": "Collections" },
        el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Name"), el("th", { scope: "col", class: "num" }, "Documents"), el("th", { scope: "col" }, "Indexes"), el("th", { scope: "col" }, "Access"))),
        el("tbody", {}, rows)),
      el("p", { class: "muted" }, "A collection exists once it holds a document; open a new name to create its first one.")));
  }

  // ---- documents ----------------------------------------------------------------------
  function listState(coll) {
    if (!state.lists[coll]) state.lists[coll] = { q: "", sort: "_id", dir: "1", max: 20, skip: 0, mode: "table", selected: new Set() };
    return state.lists[coll];
  }
  function cell(v) {
    if (v === undefined) return "";
    if (v === null) return "null";
    return typeof v === "object" ? JSON.stringify(v) : String(v);
  }

  async function showList(coll) {
    const st = listState(coll);
    const params = new URLSearchParams({ totals: "true", metafields: "true", max: String(st.max), skip: String(st.skip) });
    if (st.q.trim()) params.set("q", st.q.trim());
    params.set("sort", st.sort || "_id");
    params.set("dir", st.dir);
    let res;
    try {
      res = await api("GET", collPath(coll) + "?" + params);
    } catch (err) {
      fail(err);
      res = { data: [], totals: { total: 0, count: 0, skip: st.skip, max: st.max } };
    }
    const docs = res.data;
    const total = res.totals.total;
    st.selected = new Set([...st.selected].filter((id) => docs.some((d) => d._id === id)));

    const q = el("input", { id: "q", name: "q", value: st.q, placeholder: '{"status": "open"}', spellcheck: "false" });
    const sort = el("input", { id: "sort", name: "sort", value: st.sort, size: 10 });
    const dir = el("select", { id: "dir", name: "dir" }, el("option", { value: "1" }, "ascending"), el("option", { value: "-1" }, "descending"));
    dir.value = st.dir;
    const max = el("select", { id: "max", name: "max" }, [10, 20, 50, 100].map((n) => el("option", { value: String(n) }, String(n))));
    max.value = String(st.max);
    const apply = (ev) => {
      ev.preventDefault();
      if (q.value.trim()) {
        try { JSON.parse(q.value); } catch (e) { say("error", "The query is not valid JSON: " + e.message); return; }
      }
      clearMessage();
      Object.assign(st, { q: q.value, sort: sort.value.trim() || "_id", dir: dir.value, max: Number(max.value), skip: 0 });
      showList(coll);
    };
    const queryForm = el("form", { class: "toolbar", onsubmit: apply, "aria-label": "Query" },
      el("div", { class: "field grow" }, el("label", { for: "q" }, "Query (q, JSON)"), q),
      el("div", { class: "field" }, el("label", { for: "sort" }, "Sort by"), sort),
      el("div", { class: "field" }, el("label", { for: "dir" }, "Direction"), dir),
      el("div", { class: "field" }, el("label", { for: "max" }, "Per page"), max),
      el("button", { type: "submit", class: "primary", id: "apply" }, "Run query"));

    const progress = el("div", { class: "progress", hidden: true },
      el("label", { for: "bulk-progress" }, "Deleting"), el("progress", { id: "bulk-progress", max: "1", value: "0" }), el("span", { id: "bulk-status" }));
    const delSel = el("button", { type: "button", class: "danger", id: "delete-selected", disabled: st.selected.size === 0 }, "Delete selected (" + st.selected.size + ")");
    let armed = false;
    delSel.addEventListener("click", async () => {
      if (!armed) { armed = true; delSel.textContent = "Confirm: delete " + st.selected.size + " documents"; return; }
      await bulkDelete(coll, [...st.selected], progress);
    });
    const modeBtn = (mode, label) => el("button", { type: "button", "aria-pressed": st.mode === mode ? "true" : "false", id: "mode-" + mode, onclick: () => { st.mode = mode; showList(coll); } }, label);
    const actions = el("div", { class: "toolbar" },
      el("button", { type: "button", class: "primary", id: "new-doc", onclick: () => go("#/c/" + enc(coll) + "/new") }, "New document"),
      delSel, el("span", { class: "spacer" }), modeBtn("table", "Table"), modeBtn("json", "JSON"));

    let body;
    if (docs.length === 0) {
      body = el("div", { class: "empty" }, total === 0 && !st.q.trim() ? "This collection has no documents yet. Use “New document” to create the first one." : "No documents match this query.");
    } else if (st.mode === "json") {
      body = el("pre", { class: "json", id: "json-view", tabindex: "0", "aria-label": "Documents as JSON" }, JSON.stringify(docs, null, 2));
    } else {
      const fields = [];
      for (const d of docs) for (const k of Object.keys(d)) if (!SYSTEM.includes(k) && !fields.includes(k) && fields.length < 6) fields.push(k);
      const all = el("input", { type: "checkbox", id: "select-all", "aria-label": "Select all documents on this page", checked: docs.length > 0 && docs.every((d) => st.selected.has(d._id)) });
      all.addEventListener("change", () => { for (const d of docs) { if (all.checked) st.selected.add(d._id); else st.selected.delete(d._id); } showList(coll); });
      const rows = docs.map((d) => {
        const box = el("input", { type: "checkbox", "aria-label": "Select " + d._id, checked: st.selected.has(d._id) });
        box.addEventListener("change", () => { if (box.checked) st.selected.add(d._id); else st.selected.delete(d._id); showList(coll); });
        const del = el("button", { type: "button", class: "danger", "aria-label": "Delete " + d._id }, "Delete");
        let armedOne = false;
        del.addEventListener("click", async () => {
          if (!armedOne) { armedOne = true; del.textContent = "Confirm"; del.setAttribute("aria-label", "Confirm deleting " + d._id); return; }
          try {
            await api("DELETE", docPath(coll, d._id), { headers: { "if-match": '"' + d._version + '"' } });
            st.selected.delete(d._id);
            say("info", "Deleted " + d._id + ".");
          } catch (err) {
            if (err instanceof ApiError && err.status === 412) say("warn", "Not deleted: someone changed " + d._id + " after this page was loaded. Look at it again before deleting.");
            else fail(err);
          }
          showList(coll);
        });
        return el("tr", { "data-id": d._id },
          el("td", {}, box),
          el("td", { class: "mono" }, d._id),
          fields.map((f) => el("td", { class: "value", title: cell(d[f]) }, cell(d[f]))),
          el("td", { class: "num" }, String(d._version)),
          el("td", { class: "actions" },
            el("button", { type: "button", "aria-label": "Edit " + d._id, onclick: () => go("#/c/" + enc(coll) + "/edit/" + enc(d._id)) }, "Edit"), del));
      });
      body = el("table", { "aria-label": "Documents of " + coll },
        el("thead", {}, el("tr", {}, el("th", { scope: "col" }, all), el("th", { scope: "col" }, "_id"), fields.map((f) => el("th", { scope: "col" }, f)), el("th", { scope: "col", class: "num" }, "_version"), el("th", { scope: "col", class: "actions" }, "Actions"))),
        el("tbody", {}, rows));
    }
    const from = docs.length ? st.skip + 1 : 0;
    const pager = el("div", { class: "pager" },
      el("span", { class: "muted", id: "totals" }, "Showing " + from + "–" + (st.skip + docs.length) + " of " + total),
      el("button", { type: "button", id: "prev", disabled: st.skip === 0, onclick: () => { st.skip = Math.max(0, st.skip - st.max); showList(coll); } }, "Previous page"),
      el("button", { type: "button", id: "next", disabled: st.skip + docs.length >= total, onclick: () => { st.skip += st.max; showList(coll); } }, "Next page"));
    setView(el("div", { "data-name": "documents" },
      el("div", { class: "title-row" }, el("h1", {}, coll), el("span", { class: "muted" }, total + " documents")),
      queryForm, actions, progress, body, pager));
  }

  async function bulkDelete(coll, ids, progress) {
    const bar = progress.querySelector("progress");
    const status = progress.querySelector("span");
    progress.hidden = false;
    bar.max = ids.length; bar.value = 0;
    let deleted = 0;
    for (let i = 0; i < ids.length; i += BULK_CHUNK) {
      const chunk = ids.slice(i, i + BULK_CHUNK);
      try {
        const r = await api("DELETE", collPath(coll) + "/*", { body: chunk });
        deleted += r.result.length;
      } catch (err) {
        fail(err);
        listState(coll).selected.clear();
        return showList(coll);
      }
      bar.value = Math.min(ids.length, i + chunk.length);
      status.textContent = bar.value + " of " + ids.length;
    }
    listState(coll).selected.clear();
    say("info", "Deleted " + deleted + " of " + ids.length + " selected documents" + (deleted < ids.length ? " (the others were already gone)." : "."));
    showList(coll);
  }

  // ---- editor -------------------------------------------------------------------------
  async function showEditor(coll, id) {
    let doc = null;
    if (id) {
      try { doc = await api("GET", docPath(coll, id) + "?metafields=true"); } catch (err) { fail(err); return; }
    }
    const own = {};
    if (doc) for (const [k, v] of Object.entries(doc)) if (!SYSTEM.includes(k)) own[k] = v;
    const text = el("textarea", { id: "doc-json", class: "json", spellcheck: "false" }, JSON.stringify(own, null, 2));
    const conflict = el("div", { id: "conflict", role: "alert", hidden: true });
    const save = el("button", { type: "submit", class: "primary", id: "save" }, id ? "Save changes" : "Create document");
    const form = el("form", { onsubmit: async (ev) => {
      ev.preventDefault();
      let body;
      try { body = JSON.parse(text.value); } catch (e) { say("error", "The document is not valid JSON: " + e.message); return; }
      if (!body || typeof body !== "object" || Array.isArray(body)) { say("error", "A document must be a JSON object ({ … })."); return; }
      save.disabled = true;
      try {
        if (!id) {
          const created = await api("POST", collPath(coll), { body });
          say("info", "Created document " + created._id + " in " + coll + ".");
          go("#/c/" + enc(coll));
        } else {
          const removed = Object.keys(own).filter((k) => !(k in body));
          if (removed.length) body.$unset = Object.fromEntries(removed.map((k) => [k, ""]));
          const updated = await api("PUT", docPath(coll, id), { body, headers: { "if-match": '"' + doc._version + '"' } });
          say("info", "Saved " + id + " (version " + updated._version + ").");
          go("#/c/" + enc(coll));
        }
      } catch (err) {
        if (err instanceof ApiError && err.status === 412) {
          clearMessage();
          conflict.className = "conflict";
          conflict.replaceChildren(
            el("p", {}, el("strong", {}, "Conflict (412): "), "someone else changed this document after you opened it (you edited version " + doc._version + "). Nothing was saved; your text is still in the editor."),
            el("button", { type: "button", id: "reload-latest", onclick: () => showEditor(coll, id) }, "Load the latest version"));
          conflict.hidden = false;
        } else fail(err);
      } finally { save.disabled = false; }
    } },
      el("label", { for: "doc-json" }, "Document (JSON object; system fields are kept by the server)"), text,
      el("div", { class: "editor-actions" }, save, el("button", { type: "button", id: "cancel", onclick: () => go("#/c/" + enc(coll)) }, "Cancel")));
    setView(el("div", { "data-name": "editor" },
      el("h1", {}, id ? "Edit " + coll + " / " + id : "New document in " + coll),
      doc ? el("p", { class: "muted", id: "doc-meta" }, "Version " + doc._version + " · created " + doc._created + " by " + doc._createdby + " · changed " + doc._changed + " by " + doc._changedby) : null,
      conflict, el("div", { class: "card" }, form)));
    text.focus();
  }

  // ---- users --------------------------------------------------------------------------
  async function showUsers() {
    const st = listState("users");
    let res;
    try {
      res = await api("GET", "/rest/users?" + new URLSearchParams({ totals: "true", metafields: "true", max: String(st.max), skip: String(st.skip), sort: "email" }));
    } catch (err) {
      fail(err);
      // Say it in the view too, rather than leave the previous view under the Users tab.
      setView(el("div", { "data-name": "users" }, el("h1", {}, "Users"),
        el("div", { class: "empty", id: "users-unavailable" }, err instanceof ApiError && err.status === 403
          ? "Your sign-in may not read the users collection (" + err.message + ")."
          : "The users could not be loaded.")));
      return;
    }
    const rows = res.data.map((u) => {
      const toggle = el("button", { type: "button", "aria-label": (u.active ? "Deactivate " : "Activate ") + (u.email || u._id) }, u.active ? "Deactivate" : "Activate");
      toggle.addEventListener("click", async () => {
        try {
          await api("PUT", docPath("users", u._id), { body: { active: !u.active }, headers: { "if-match": '"' + u._version + '"' } });
          say("info", (u.active ? "Deactivated " : "Activated ") + (u.email || u._id) + ".");
        } catch (err) {
          if (err instanceof ApiError && err.status === 412) say("warn", "Not changed: " + (u.email || u._id) + " was changed by someone else meanwhile; the list now shows the latest.");
          else fail(err);
        }
        showUsers();
      });
      const roles = Array.isArray(u.roles) ? u.roles : [];
      return el("tr", { "data-id": u._id },
        el("td", {}, u.email || el("span", { class: "muted" }, "(no email)")),
        el("td", {}, u.displayname || ""),
        el("td", {}, roles.length ? roles.map((r) => el("span", { class: "pill" }, r)) : el("span", { class: "muted" }, "none")),
        el("td", {}, el("span", { class: "pill " + (u.active ? "on" : "off") }, u.active ? "active" : "inactive")),
        el("td", { class: "mono" }, u._created || ""),
        el("td", { class: "actions" }, toggle,
          el("button", { type: "button", "aria-label": "Edit " + (u.email || u._id), onclick: () => go("#/c/users/edit/" + enc(u._id)) }, "Edit")));
    });
    const total = res.totals.total;
    setView(el("div", { "data-name": "users" },
      el("div", { class: "title-row" }, el("h1", {}, "Users"), el("span", { class: "muted" }, total + " users")),
      el("p", { class: "muted" }, "External users are added on their first sign-in (or with POST /rest/users). Roles decide their rights; an inactive user is refused."),
      el("div", { class: "toolbar" }, el("button", { type: "button", class: "primary", id: "new-user", onclick: () => go("#/c/users/new") }, "New user")),
      rows.length ? el("table", { "aria-label": "Users" },
        el("thead", {}, el("tr", {}, ["Email", "Name", "Roles", "Active", "Created"].map((h) => el("th", { scope: "col" }, h)), el("th", { scope: "col", class: "actions" }, "Actions"))),
        el("tbody", {}, rows)) : el("div", { class: "empty" }, "No users yet."),
      el("div", { class: "pager" },
        el("span", { class: "muted" }, "Showing " + (res.data.length ? st.skip + 1 : 0) + "–" + (st.skip + res.data.length) + " of " + total),
        el("button", { type: "button", disabled: st.skip === 0, onclick: () => { st.skip = Math.max(0, st.skip - st.max); showUsers(); } }, "Previous page"),
        el("button", { type: "button", disabled: st.skip + res.data.length >= total, onclick: () => { st.skip += st.max; showUsers(); } }, "Next page"))));
  }

  // ---- media --------------------------------------------------------------------------
  // The archive has no listing route (as on restdb.io): the view shows what was uploaded or
  // looked up in this tab.
  function errorFromXHR(xhr) {
    try {
      const d = JSON.parse(xhr.responseText);
      return new ApiError(d.status || xhr.status, d.name || xhr.statusText, d.message || xhr.statusText, d.list);
    } catch (e) {
      return new ApiError(xhr.status, xhr.statusText, xhr.status === 0 ? "the server could not be reached" : xhr.statusText);
    }
  }
  function upload(files, onProgress) {
    return new Promise((resolve, reject) => {
      const form = new FormData();
      for (const f of files) form.append("file", f, f.name);
      const xhr = new XMLHttpRequest();
      xhr.open("POST", "/media");
      for (const [k, v] of Object.entries(credentials())) xhr.setRequestHeader(k, v);
      xhr.upload.addEventListener("progress", (ev) => { if (ev.lengthComputable) onProgress(ev.loaded, ev.total); });
      xhr.addEventListener("load", () => {
        if (xhr.status === 201) { try { resolve(JSON.parse(xhr.responseText)); } catch (e) { reject(e); } return; }
        if (xhr.status === 401) signOut();
        reject(errorFromXHR(xhr));
      });
      xhr.addEventListener("error", () => reject(errorFromXHR(xhr)));
      xhr.send(form);
    });
  }
  async function addMedia(id) {
    const meta = await api("GET", "/media/" + enc(id) + "/meta");
    state.media = [meta, ...state.media.filter((m) => m._id !== meta._id)];
  }
  function size(n) {
    if (n >= 1 << 20) return (n / (1 << 20)).toFixed(1) + " MiB";
    if (n >= 1024) return (n / 1024).toFixed(1) + " KiB";
    return n + " B";
  }
  function showMedia() {
    const files = el("input", { type: "file", id: "media-files", name: "files", multiple: true, required: true });
    const bar = el("progress", { id: "upload-progress", max: "1", value: "0" });
    const status = el("span", { id: "upload-status" });
    const progress = el("div", { class: "progress", hidden: true }, el("label", { for: "upload-progress" }, "Uploading"), bar, status);
    const send = el("button", { type: "submit", class: "primary", id: "media-upload" }, "Upload");
    const up = el("form", { class: "toolbar", "aria-label": "Upload", onsubmit: async (ev) => {
      ev.preventDefault();
      if (!files.files.length) return;
      send.disabled = true;
      progress.hidden = false;
      try {
        const res = await upload([...files.files], (done, total) => { bar.max = total; bar.value = done; status.textContent = Math.round(100 * done / total) + "%"; });
        for (const id of res.ids) await addMedia(id);
        say("info", "Uploaded " + res.ids.length + (res.ids.length === 1 ? " file." : " files."));
        showMedia();
      } catch (err) {
        fail(err);
        send.disabled = false;
        progress.hidden = true;
      }
    } },
      el("div", { class: "field" }, el("label", { for: "media-files" }, "Files to upload"), files), send);
    const idInput = el("input", { id: "media-id", name: "id", required: true, size: 28, spellcheck: "false", placeholder: "24 hex characters" });
    const find = el("form", { class: "toolbar", "aria-label": "Look up", onsubmit: async (ev) => {
      ev.preventDefault();
      try { await addMedia(idInput.value.trim()); clearMessage(); showMedia(); } catch (err) { fail(err); }
    } },
      el("div", { class: "field" }, el("label", { for: "media-id" }, "Look up a media id"), idInput),
      el("button", { type: "submit", id: "media-lookup" }, "Look up"));
    const rows = state.media.map((m) => {
      const del = el("button", { type: "button", class: "danger", "aria-label": "Delete " + m.origname }, "Delete");
      let armed = false;
      del.addEventListener("click", async () => {
        if (!armed) { armed = true; del.textContent = "Confirm"; del.setAttribute("aria-label", "Confirm deleting " + m.origname); return; }
        try {
          await api("DELETE", "/media/" + enc(m._id));
          state.media = state.media.filter((x) => x._id !== m._id);
          say("info", "Deleted " + m.origname + ".");
        } catch (err) { fail(err); }
        showMedia();
      });
      const isImage = /^image\//.test(m.mimetype || "") && m.width;
      return el("tr", { "data-id": m._id },
        el("td", { class: "thumb" }, isImage ? el("img", { src: "/media/" + enc(m._id) + "?s=t", alt: m.origname, width: "64" }) : el("span", { class: "pill" }, (m.mimetype || "file").split(";")[0].split("/").pop())),
        el("td", {}, m.origname),
        el("td", { class: "mono" }, m._id),
        el("td", {}, m.mimetype || ""),
        el("td", { class: "num" }, size(m.size || 0)),
        el("td", {}, m.width ? m.width + " × " + m.height : ""),
        el("td", { class: "actions" },
          el("a", { href: "/media/" + enc(m._id), target: "_blank", rel: "noopener noreferrer", class: "button-link" }, "Open"), del));
    });
    setView(el("div", { "data-name": "media" },
      el("h1", {}, "Media archive"),
      el("p", { class: "muted" }, "Files live beside the collections; documents refer to them by id. The archive has no listing: this page shows the files uploaded or looked up here. A file's URL needs no key (its random id is the capability)."),
      el("div", { class: "card" }, up, progress, find),
      rows.length ? el("table", { "aria-label": "Media files" },
        el("thead", {}, el("tr", {}, ["Preview", "Name", "Id", "Type", "Size", "Pixels"].map((h) => el("th", { scope: "col", class: h === "Size" ? "num" : null }, h)), el("th", { scope: "col", class: "actions" }, "Actions"))),
        el("tbody", {}, rows)) : el("div", { class: "empty" }, "No files shown yet: upload some, or look one up by its id.")));
  }

  // ---- live feed ----------------------------------------------------------------------
  // The feed reads GET /realtime's Server-Sent Events with fetch rather than EventSource:
  // EventSource cannot send headers, so it would need the key or token in the URL, and the
  // console keeps credentials out of URLs. Reconnects send Last-Event-ID like EventSource.
  const FEED_MAX = 200;           // entries kept on screen
  const FEED_LINE_MAX = 1 << 20;  // a stream line longer than this ends the stream (bounded memory)
  let feed = null;                // the running feed: { active, ctrl, lastId, retry, entries, paused, held }

  function stopFeed() {
    if (!feed) return;
    feed.active = false;
    if (feed.ctrl) feed.ctrl.abort();
    feed = null;
  }
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  function feedStatus(f, kind, text) {
    f.status = { kind, text };
    const s = $("feed-status");
    if (s && feed === f) { s.className = "feed-status " + kind; s.textContent = text; }
    const retry = $("feed-retry");
    if (retry && feed === f) retry.hidden = !(kind === "off" || kind === "error");
  }

  // runFeed keeps one stream open while f is active, reconnecting after errors.
  async function runFeed(f) {
    while (f.active) {
      f.ctrl = new AbortController();
      const headers = Object.assign({ accept: "text/event-stream" }, credentials());
      if (f.lastId) headers["last-event-id"] = f.lastId;
      let resp;
      try {
        resp = await fetch("/realtime", { headers, cache: "no-store", credentials: "omit", signal: f.ctrl.signal });
      } catch (e) {
        if (!f.active) return;
        feedStatus(f, "wait", "The connection failed; trying again in " + f.retry / 1000 + " s.");
        await sleep(f.retry);
        continue;
      }
      if (!resp.ok) {
        const text = await resp.text().catch(() => "");
        let d = null;
        try { d = JSON.parse(text); } catch (e) { d = null; }
        const err = new ApiError(resp.status, d && d.name, (d && d.message) || resp.statusText);
        if (resp.status === 404) {
          feedStatus(f, "off", "Realtime is not enabled for this database: turn on realtime.enabled in settings.json (spec.realtime.enabled on Kubernetes). Server: " + err.message);
          return;
        }
        if (resp.status === 401) { signOut(); say("error", "Signed out: " + err.message); return; }
        if (resp.status === 503) {
          feedStatus(f, "wait", err.describe() + " Trying again in 5 s.");
          await sleep(5000);
          continue;
        }
        feedStatus(f, "error", err.describe());
        return;
      }
      feedStatus(f, "live", "Live: waiting for changes.");
      try {
        await readEvents(f, resp.body.getReader());
      } catch (e) {
        if (!f.active) return;
      }
      if (!f.active) return;
      feedStatus(f, "wait", "The stream ended; reconnecting in " + f.retry / 1000 + " s.");
      await sleep(f.retry);
    }
  }

  // readEvents parses the event stream (the WHATWG EventSource rules: fields event, data, id,
  // retry; a blank line dispatches; lines starting with ':' are comments).
  async function readEvents(f, reader) {
    const dec = new TextDecoder();
    let buf = "";
    let ev = { type: "", data: [], id: null };
    for (;;) {
      const { value, done } = await reader.read();
      if (done || !f.active) return;
      buf += dec.decode(value, { stream: true });
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        let line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.endsWith("\r")) line = line.slice(0, -1);
        if (line === "") {
          if (ev.id !== null) f.lastId = ev.id;
          if (ev.data.length) onFeedEvent(f, ev.type || "message", ev.data.join("\n"));
          ev = { type: "", data: [], id: null };
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let val = colon < 0 ? "" : line.slice(colon + 1);
        if (val.startsWith(" ")) val = val.slice(1);
        if (field === "event") ev.type = val;
        else if (field === "data") ev.data.push(val);
        else if (field === "id") ev.id = val;
        else if (field === "retry" && /^\d+$/.test(val)) f.retry = Math.min(Math.max(Number(val), 1000), 60000);
      }
      if (buf.length > FEED_LINE_MAX) throw new Error("event stream line too long");
    }
  }

  function summary(v) {
    const s = typeof v === "string" ? v : JSON.stringify(v);
    return s.length > 160 ? s.slice(0, 157) + "…" : s;
  }

  function onFeedEvent(f, type, raw) {
    let d;
    try { d = JSON.parse(raw); } catch (e) { d = raw; }
    if (type === "ping") {
      f.lastPing = typeof d === "string" ? d : raw;
      if (f.status && f.status.kind === "live") feedStatus(f, "live", "Live: the server's last ping was at " + new Date(f.lastPing).toLocaleTimeString() + ".");
      return;
    }
    const entry = { at: new Date(), type, collection: "", ids: [], detail: "" };
    if (type === "post" && d && d.data) {
      entry.collection = d.collection; entry.ids = [d.data._id];
      const own = {};
      for (const [k, v] of Object.entries(d.data)) if (!SYSTEM.includes(k)) own[k] = v;
      entry.detail = summary(own);
    } else if (type === "put" && d) {
      entry.collection = d.collection; entry.ids = [String(d.data)];
    } else if (type === "delete" && d) {
      entry.collection = d.collection; entry.ids = Array.isArray(d.data) ? d.data.map(String) : [];
      entry.detail = entry.ids.length + (entry.ids.length === 1 ? " document" : " documents");
    } else if (type === "publish" && d) {
      entry.collection = d.event; entry.detail = summary(d.data);
    } else if (type === "reset") {
      entry.detail = "Some events were missed (" + ((d && d.reason) || "the server no longer has them") + "): reload the data you look at.";
    } else {
      entry.detail = summary(d);
    }
    f.entries.unshift(entry);
    if (f.entries.length > FEED_MAX) f.entries.length = FEED_MAX;
    if (f.paused) { f.held++; updateHeld(f); return; }
    const list = $("feed-list");
    if (list && feed === f) {
      const empty = $("feed-empty");
      if (empty) empty.hidden = true;
      list.prepend(feedItem(entry));
      while (list.children.length > FEED_MAX) list.lastChild.remove();
    }
  }

  function updateHeld(f) {
    const p = $("feed-pause");
    if (p) p.textContent = f.paused ? "Resume" + (f.held ? " (" + f.held + " new)" : "") : "Pause";
  }

  function feedItem(e) {
    const target = e.type === "publish" ? el("span", { class: "mono" }, e.collection)
      : e.collection && e.ids.length === 1 && e.type !== "delete"
        ? el("a", { href: "#/c/" + enc(e.collection) + "/edit/" + enc(e.ids[0]) }, e.collection + " / " + e.ids[0])
        : el("span", { class: "mono" }, e.collection + (e.type === "delete" ? " / " + e.ids.join(", ") : ""));
    return el("li", { class: "feed-item", "data-event": e.type, "data-collection": e.collection || null },
      el("time", { datetime: e.at.toISOString() }, e.at.toLocaleTimeString()),
      el("span", { class: "pill ev-" + e.type }, e.type),
      target,
      e.detail ? el("code", { class: "detail" }, e.detail) : null);
  }

  function showFeed() {
    if (!feed) {
      feed = { active: true, ctrl: null, lastId: "", retry: 3000, entries: [], paused: false, held: 0, status: { kind: "wait", text: "Connecting…" } };
      runFeed(feed);
    }
    const f = feed;
    const pause = el("button", { type: "button", id: "feed-pause", "aria-pressed": f.paused ? "true" : "false", onclick: () => {
      f.paused = !f.paused;
      pause.setAttribute("aria-pressed", f.paused ? "true" : "false");
      if (!f.paused) { f.held = 0; showFeed(); return; }
      updateHeld(f);
    } }, "Pause");
    const retry = el("button", { type: "button", id: "feed-retry", hidden: true, onclick: () => { stopFeed(); showFeed(); } }, "Try again");
    const items = f.entries.map(feedItem);
    setView(el("div", { "data-name": "feed" },
      el("div", { class: "title-row" }, el("h1", {}, "Live feed")),
      el("p", { class: "muted" }, "Every create (post), update (put), delete and published message this sign-in may hear, as it happens, newest first (the last " + FEED_MAX + "). The feed is open while this page is."),
      el("div", { class: "toolbar" },
        el("div", { id: "feed-status", role: "status", class: "feed-status " + f.status.kind }, f.status.text),
        el("span", { class: "spacer" }), retry, pause,
        el("button", { type: "button", id: "feed-clear", onclick: () => { f.entries = []; f.held = 0; showFeed(); } }, "Clear")),
      el("div", { class: "empty", id: "feed-empty", hidden: items.length > 0 }, "No changes yet. They appear here as other clients write."),
      el("ol", { id: "feed-list", class: "feed", "aria-label": "Changes, newest first" }, items)));
    feedStatus(f, f.status.kind, f.status.text);
    updateHeld(f);
  }

  // ---- backups ------------------------------------------------------------------------
  const BACKUP_POLL = 1000;
  let backupPoll = null;  // the timer of the next look while a backup runs
  let backupWatch = null; // the id of the backup started here, until its outcome is said

  function when(t) { return t ? new Date(t).toLocaleString() : ""; }
  function took(r) {
    if (!r.ended) return "";
    const s = (new Date(r.ended) - new Date(r.started)) / 1000;
    return s < 60 ? s.toFixed(1) + " s" : Math.round(s / 60) + " min";
  }

  async function showBackups() {
    if (backupPoll) { clearTimeout(backupPoll); backupPoll = null; }
    let res;
    try {
      res = await api("GET", "/admin/backups");
    } catch (err) {
      let why;
      if (err instanceof ApiError && err.status === 404) why = "This dbserver has no backup service.";
      else if (err instanceof ApiError && err.status === 403) why = "Only the full-access API key may see and start backups. " + err.message;
      else why = err instanceof ApiError ? err.describe() : String(err);
      setView(el("div", { "data-name": "backups" }, el("h1", {}, "Backups"), el("div", { class: "empty", id: "backup-unavailable" }, why)));
      return;
    }
    const runs = res.runs || [];
    const running = runs.find((r) => r.phase === "Running");
    const watched = backupWatch && runs.find((r) => r.id === backupWatch);
    if (watched && watched.phase !== "Running") {
      backupWatch = null;
      if (watched.phase === "Completed") say("info", "Backup " + watched.id + " completed: " + (watched.documents || 0) + " documents, " + (watched.files || 0) + " media files, " + size(watched.size || 0) + ".");
      else say("error", "Backup " + watched.id + " failed: " + (watched.error || "no reason given"));
    }
    const start = el("button", { type: "button", class: "primary", id: "backup-start", disabled: !res.configured || !!running }, "Start a backup");
    start.addEventListener("click", async () => {
      start.disabled = true;
      try {
        const run = await api("POST", "/admin/backups");
        backupWatch = run.id;
        say("info", "Backup " + run.id + " started.");
      } catch (err) { fail(err); }
      showBackups();
    });
    const store = res.configured
      ? el("p", { class: "muted", id: "backup-store" }, "Backups go to the object store in settings.json (backup.objectStore): bucket ", el("code", {}, res.bucket || ""), res.prefix ? [", prefix ", el("code", {}, res.prefix)] : "", ". Scheduled backups and retention are set on the Database (spec.backup); this page lists the last 20 runs since the dbserver started.")
      : el("div", { class: "notice", id: "backup-store", role: "note" }, "No object store is configured for backups, so none can be taken here. Give the database one: spec.backup.objectStore on Kubernetes, or backup.objectStore in settings.json with the credential files beside it (see the README's backup section). A stopped standalone database can be backed up with `dbserver backup`.");
    const rows = runs.map((r) => el("tr", { "data-id": r.id, "data-phase": r.phase },
      el("td", { class: "mono" }, r.id),
      el("td", {}, el("span", { class: "pill " + (r.phase === "Completed" ? "on" : r.phase === "Failed" ? "off" : "") }, r.phase)),
      el("td", {}, when(r.started)),
      el("td", { class: "num" }, took(r)),
      el("td", { class: "num" }, r.size ? size(r.size) : ""),
      el("td", { class: "num" }, r.phase === "Completed" ? String(r.documents || 0) : ""),
      el("td", { class: "num" }, r.phase === "Completed" ? String(r.files || 0) : ""),
      el("td", { class: "mono value", title: r.error || r.key || "" }, r.error ? el("span", { class: "error-text" }, r.error) : (r.key || ""))));
    setView(el("div", { "data-name": "backups" },
      el("h1", {}, "Backups"),
      store,
      el("div", { class: "toolbar" }, start,
        el("button", { type: "button", id: "backup-refresh", onclick: () => { clearMessage(); showBackups(); } }, "Refresh"),
        running ? el("div", { class: "progress", id: "backup-progress" }, el("label", { for: "backup-running" }, "Backup " + running.id + " running"), el("progress", { id: "backup-running" })) : null),
      rows.length ? el("table", { "aria-label": "Backups, newest first" },
        el("thead", {}, el("tr", {}, ["Backup", "State", "Started", "Took", "Size", "Documents", "Files", "Object key or error"].map((h) => el("th", { scope: "col", class: ["Took", "Size", "Documents", "Files"].includes(h) ? "num" : null }, h)))),
        el("tbody", {}, rows)) : el("div", { class: "empty" }, "No backups taken since this dbserver started.")));
    if (running) {
      // Poll while a backup runs (whoever started it); the list says when it ended.
      backupPoll = setTimeout(() => { backupPoll = null; if (location.hash === "#/backups") showBackups(); }, BACKUP_POLL);
    }
  }

  // ---- start --------------------------------------------------------------------------
  document.addEventListener("DOMContentLoaded", async () => {
    $("signin-form").addEventListener("submit", onSignin);
    $("signin-external").addEventListener("click", startExternal);
    for (const a of document.querySelectorAll("nav a")) a.addEventListener("click", clearMessage);
    $("signout").addEventListener("click", async () => { await revoke(); signOut(); clearMessage(); location.hash = ""; });
    window.addEventListener("hashchange", () => {
      // A message said just before this navigation (e.g. "Created …") is about it: keep it.
      if (Date.now() - saidAt > 1000) clearMessage();
      route();
    });
    await loadSignIn();
    await finishExternal();
    scheduleRefresh();
    route();
    document.body.dataset.ready = "yes";
  });
})();
