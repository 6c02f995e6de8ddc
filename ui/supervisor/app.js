// The supervisor's front end: plain JS over Tauri commands. Every visible string comes
// from the Fluent files through `i18n_strings` / `set_lang`; tiles arrive on a channel.
"use strict";
const { invoke, Channel } = window.__TAURI__.core;

const S = { strings: {}, lang: "en-US", tiles: [], session: null, view: "fleet", detail: null,
            recipes: [], lastReport: null, link: null, first: null };

function t(key, args) {
  let s = S.strings[key];
  if (s === undefined) return key;
  if (args) s = s.replace(/\{\s*\$(\w+)\s*\}/g, (_, k) => (args[k] ?? ""));
  return s;
}
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
const fmt = (v, d = 1) => (v === null || v === undefined || Number.isNaN(v)) ? t("sv-none") : Number(v).toFixed(d);
const time = (ms) => ms ? new Date(ms).toISOString().slice(0, 16).replace("T", " ") : t("sv-none");
const err = (e) => (e && e.code) ? `${e.code}: ${e.detail}` : String(e);

function applyStrings() {
  document.documentElement.lang = S.lang;
  document.title = t("sv-app-title");
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  document.querySelectorAll("[data-i18n-ph]").forEach((el) => { el.placeholder = t(el.dataset.i18nPh); });
  renderUser();
  renderSetup();
  renderLink();
  renderTiles();
  if (S.view === "detail" && S.detail) openDetail(S.detail);
  if (S.view === "recipes") loadRecipes();
  if (S.view === "reports" && S.lastReport) runReport();
  if (S.view === "spc" && $("spc-chart").innerHTML) runSpc();
  if (S.view === "users") loadUsers();
  if (S.view === "excursions") loadExcursions();
}

// The station's SECS/GEM control state as its status reports it (absent: GEM off).
function gemText(tile) {
  if (!tile.gem_control) return t("sv-gem-off");
  const k = "sv-gem-" + tile.gem_control.toLowerCase();
  const name = S.strings[k] ? t(k) : tile.gem_control;
  return tile.gem_communicating ? name : name + " · " + t("sv-gem-no-host");
}

function stateName(tile) {
  if (tile.state === "offline") return t("sv-state-offline");
  const k = "state-" + tile.state;
  return S.strings[k] ? t(k) : tile.state;
}

function renderTiles() {
  const box = $("tiles");
  $("fleet-empty").hidden = S.tiles.length > 0;
  box.innerHTML = S.tiles.map((x) => `
    <div class="tile cond-${x.condition}" data-station="${esc(x.id)}" title="${esc(x.id)}">
      <div class="name">${esc(x.name)}</div>
      <div class="lineid">${esc(x.line)}</div>
      <span class="state">${esc(stateName(x))}</span>
      ${x.condition === "low_yield" ? `<span class="cond">${esc(t("sv-cond-low_yield"))}</span>` : ""}
      <dl>
        <dt>${t("sv-recipe")}</dt><dd>${esc(x.recipe ?? t("sv-none"))}</dd>
        <dt>${t("sv-operator")}</dt><dd>${esc(x.operator ?? t("sv-none"))}</dd>
        <dt>${t("sv-wire-rate")}</dt><dd>${fmt(x.wire_rate_per_min, 0)} ${t("sv-per-min")}</dd>
        <dt>${t("sv-shift-yield")}</dt><dd><span class="yield">${fmt(x.yield_pct, 2)} %</span></dd>
        <dt>${t("sv-wires")}</dt><dd>${x.wires_bonded}</dd>
        <dt>${t("sv-gem")}</dt><dd>${esc(gemText(x))}</dd>
      </dl>
      ${x.alarm ? `<div class="alarm">${x.alarm.code} ${esc(S.lang === "zh-CN" ? x.alarm.text_zh : x.alarm.text_en)}</div>` : ""}
    </div>`).join("");
  box.querySelectorAll(".tile").forEach((el) => el.addEventListener("click", () => openDetail(el.dataset.station)));
  fillStationSelects();
}

function fillStationSelects() {
  const ids = S.tiles.map((x) => x.id).sort();
  for (const sel of [$("spc-station"), $("wo-station")]) {
    const cur = sel.value;
    sel.innerHTML = ids.map((i) => `<option>${esc(i)}</option>`).join("");
    if (ids.includes(cur)) sel.value = cur;
  }
  const scope = $("report-scope"), cur = scope.value;
  const lines = [...new Set(S.tiles.map((x) => x.line + "/"))].sort();
  scope.innerHTML = `<option value="">${esc(t("sv-scope-all"))}</option>` +
    lines.map((l) => `<option value="${esc(l)}">${esc(t("sv-report-line"))}: ${esc(l)}</option>`).join("") +
    ids.map((i) => `<option value="${esc(i)}">${esc(i)}</option>`).join("");
  if ([...scope.options].some((o) => o.value === cur)) scope.value = cur;
  const box = $("send-stations");
  const checked = new Set([...box.querySelectorAll("input:checked")].map((i) => i.value));
  box.innerHTML = ids.map((i) => `<label><input type="checkbox" value="${esc(i)}" ${checked.has(i) ? "checked" : ""}> ${esc(i)}</label>`).join("");
}

function renderLink() {
  const el = $("link-state");
  const up = S.link && S.link.connected;
  el.textContent = up ? t("sv-gateway-connected") : t("sv-gateway-disconnected");
  el.className = "link" + (up ? "" : " down");
}

function renderUser() {
  const s = S.session;
  $("user-line").textContent = s ? t("sv-signed-in-as", { user: s.user, role: t("role-" + s.role) }) : t("sv-not-signed-in");
  $("login-open").hidden = !!s;
  $("logout-btn").hidden = !s;
  // User management: administrators only (the commands refuse everyone else as well).
  const admin = !!s && s.role === "admin";
  $("nav-users").hidden = !admin;
  if (!admin && S.view === "users") show("fleet");
}

// ---- Users (administrators) ----
const ROLES = ["operator", "technician", "engineer", "supervisor", "admin"];
const roleOptions = (cur) => ROLES.map((r) => `<option value="${r}" ${r === cur ? "selected" : ""}>${esc(t("role-" + r))}</option>`).join("");
const pwMin = (role) => role === "admin" ? S.first.password_min : S.first.user_password_min;

function userError(e, role) {
  const key = { user_exists: "sv-users-err-exists", name_missing: "sv-setup-name-missing", role_unknown: "sv-users-err-role",
    password_too_short: "sv-setup-too-short", own_account: "sv-users-err-own", user_unknown: "sv-users-err-unknown",
    forbidden: "sv-err-forbidden", login_required: "sv-err-login" }[e && e.code];
  return key ? t(key, { n: pwMin(role) }) : t("sv-users-failed", { error: err(e) });
}

async function loadUsers() {
  $("ua-role").innerHTML = roleOptions($("ua-role").value || "operator");
  let users;
  try { users = await invoke("user_list"); } catch (e) { $("users-msg").textContent = userError(e); $("user-table").innerHTML = ""; return; }
  S.users = users;
  const me = S.session && S.session.user;
  $("user-table").innerHTML = `<tr><th>${t("sv-user")}</th><th>${t("sv-users-role")}</th><th>${t("sv-state")}</th><th>${t("sv-users-actions")}</th></tr>` +
    users.map((u, i) => {
      const own = u.name === me;
      return `<tr data-user="${esc(u.name)}" class="${u.enabled ? "" : "disabled"}">
        <td class="l">${esc(u.name)} ${own ? esc(t("sv-users-you")) : ""}</td>
        <td class="l">${esc(t("role-" + u.role))}</td>
        <td class="l state">${u.enabled ? t("sv-users-enabled") : t("sv-users-disabled")}</td>
        <td class="actions"><div class="acts">
          <select class="role-select" data-i="${i}" ${own ? "disabled" : ""}>${roleOptions(u.role)}</select>
          <button class="set-role" data-i="${i}" disabled>${t("sv-users-set-role")}</button>
          <button class="reset-pw" data-i="${i}">${t("sv-users-reset")}</button>
          <button class="toggle" data-i="${i}" ${own ? "disabled" : ""}>${u.enabled ? t("sv-users-disable") : t("sv-users-enable")}</button>
        </div></td></tr>`;
    }).join("");
  const tb = $("user-table");
  tb.querySelectorAll("select.role-select").forEach((sel) => sel.addEventListener("change", () => {
    tb.querySelector(`button.set-role[data-i="${sel.dataset.i}"]`).disabled = sel.value === users[Number(sel.dataset.i)].role;
  }));
  tb.querySelectorAll("button.set-role").forEach((b) => b.addEventListener("click", () => {
    const u = users[Number(b.dataset.i)], role = tb.querySelector(`select.role-select[data-i="${b.dataset.i}"]`).value;
    userAction("user_role", { name: u.name, role }, "sv-users-role-changed", { user: u.name, role: t("role-" + role) }, role);
  }));
  tb.querySelectorAll("button.toggle").forEach((b) => b.addEventListener("click", () => {
    const u = users[Number(b.dataset.i)];
    userAction("user_enable", { name: u.name, enabled: !u.enabled }, u.enabled ? "sv-users-disabled-done" : "sv-users-enabled-done", { user: u.name }, u.role);
  }));
  tb.querySelectorAll("button.reset-pw").forEach((b) => b.addEventListener("click", () => openPassword(users[Number(b.dataset.i)])));
}

async function userAction(cmd, args, doneKey, doneArgs, role) {
  try {
    await invoke(cmd, args);
    await loadUsers();
    $("users-msg").textContent = t(doneKey, doneArgs);
    return true;
  } catch (e) { $("users-msg").textContent = userError(e, role); return false; }
}

async function addUser(ev) {
  ev.preventDefault();
  const name = $("ua-name").value.trim(), role = $("ua-role").value, password = $("ua-pass").value;
  $("ua-add").disabled = true; // one request while the password is hashed
  try {
    if (await userAction("user_add", { name, role, password }, "sv-users-added", { user: name }, role)) {
      $("ua-name").value = ""; $("ua-pass").value = "";
    }
  } finally { $("ua-add").disabled = false; }
}

function openPassword(u) {
  S.pwUser = u;
  $("pw-title").textContent = t("sv-users-password-title", { user: u.name });
  $("pw-rule").textContent = t("sv-setup-rule", { n: pwMin(u.role) });
  $("pw-new").value = ""; $("pw-msg").textContent = "";
  $("pw-dialog").showModal();
}

async function savePassword(ev) {
  ev.preventDefault();
  const u = S.pwUser;
  try {
    await invoke("user_password", { name: u.name, password: $("pw-new").value });
    $("pw-new").value = "";
    $("pw-dialog").close();
    $("users-msg").textContent = t("sv-users-password-done", { user: u.name });
  } catch (e) { $("pw-msg").textContent = userError(e, u.role); }
}

// First start (no user yet): the sign-in form is replaced by "create the administrator";
// it cannot be dismissed until there is one.
function renderSetup() {
  if (S.first) $("setup-rule").textContent = t("sv-setup-rule", { n: S.first.password_min });
}

function openSignIn() {
  if (S.first && S.first.needed) {
    if (!$("setup-dialog").open) { $("setup-msg").textContent = ""; $("setup-dialog").showModal(); }
    return;
  }
  $("login-msg").textContent = "";
  $("login-dialog").showModal();
}

async function createAdmin(ev) {
  ev.preventDefault();
  const user = $("setup-user").value.trim(), password = $("setup-pass").value, min = S.first.password_min;
  const problem = !user ? "sv-setup-name-missing" : [...password].length < min ? "sv-setup-too-short"
    : password !== $("setup-pass2").value ? "sv-setup-mismatch" : null;
  if (problem) { $("setup-msg").textContent = t(problem, { n: min }); return; }
  $("setup-btn").disabled = true; // no second request while the first is hashed
  try {
    S.session = await invoke("first_admin", { user, password });
    S.first.needed = false;
  } catch (e) {
    const known = { users_exist: "sv-setup-users-exist", name_missing: "sv-setup-name-missing", password_too_short: "sv-setup-too-short" }[e && e.code];
    $("setup-msg").textContent = known ? t(known, { n: min }) : t("sv-setup-failed", { error: err(e) });
    if (!e || e.code !== "users_exist") return;
    S.first.needed = false; // someone else created it: sign in instead
  } finally { $("setup-btn").disabled = false; }
  $("setup-pass").value = ""; $("setup-pass2").value = "";
  $("setup-dialog").close();
  signedIn();
  if (!S.session) { openSignIn(); $("login-msg").textContent = t("sv-setup-users-exist"); }
}

// Plant data needs a signed-in user: the fleet is watched from the first sign-in on.
function signedIn() {
  renderUser();
  if (S.session && !S.watching) { S.watching = true; watchFleet(); }
  if (S.session && S.view === "recipes") loadRecipes();
}

// The core closes an idle session (its idle lock); the page follows within seconds.
async function pollSession() {
  let s = null;
  try { s = await invoke("session"); } catch (e) { return; }
  if (S.session && !s) {
    S.session = null;
    renderUser();
    openSignIn();
    $("login-msg").textContent = t("sv-login-idle");
  }
}

function loginError(e) {
  const c = e && e.code;
  if (c === "login_failed") return t("sv-login-wrong", { left: e.left === undefined ? "?" : e.left });
  if (c === "login_locked") return t("sv-login-locked", { time: new Date(e.until_ms).toLocaleTimeString() });
  if (c === "account_disabled") return t("sv-login-disabled");
  return t("sv-login-failed");
}

async function releaseRecipe() {
  const a = selected("ra");
  if (!a) return;
  try {
    await invoke("recipe_release", { name: a.name, version: a.version });
    $("recipe-msg").textContent = t("sv-released", { id: `${a.name}@${a.version}` });
    loadRecipes();
  } catch (e) {
    $("recipe-msg").textContent = e.code === "forbidden" ? t("sv-err-forbidden") : e.code === "login_required" ? t("sv-err-login") : err(e);
  }
}

function show(view) {
  S.view = view;
  document.querySelectorAll(".view").forEach((v) => { v.hidden = v.id !== "view-" + view; });
  document.querySelectorAll("nav button").forEach((b) => b.classList.toggle("active", b.dataset.view === view || (view === "detail" && b.dataset.view === "fleet")));
  if (view === "recipes") loadRecipes();
  if (view === "excursions") loadExcursions();
  if (view === "settings") { loadSettings(); loadKey(); }
  if (view === "users") { $("users-msg").textContent = ""; loadUsers(); }
}

async function openDetail(station) {
  S.detail = station;
  show("detail");
  $("detail-title").textContent = t("sv-detail-title", { station });
  try {
    const d = await invoke("station_detail", { station });
    $("detail-yield").innerHTML = d.yield_svg;
    $("detail-rejects").innerHTML = d.rejects_svg;
    const tile = d.tile;
    $("detail-tile").innerHTML = tile ? `<p>${esc(stateName(tile))} · ${t("sv-recipe")} ${esc(tile.recipe ?? t("sv-none"))} · ${t("sv-wires")} ${d.wires} · ${t("sv-shift-yield")} ${fmt(tile.yield_pct, 2)} %</p>` : "";
    $("detail-alarms").innerHTML = d.alarms.length === 0 ? `<p class="muted">${t("sv-no-data")}</p>` :
      `<table class="data"><tr><th>${t("sv-sent")}</th><th>${t("sv-alarm")}</th><th>${t("sv-state")}</th></tr>` +
      d.alarms.map((a) => `<tr><td>${time(a.ts_ms)}</td><td class="l">${a.code} ${esc(S.lang === "zh-CN" ? a.text_zh : a.text_en)}</td><td class="${a.raised ? "refused" : "ok"}">${a.raised ? t("sv-raised") : t("sv-cleared")}</td></tr>`).join("") + "</table>";
    $("detail-changeovers").innerHTML = d.changeovers.length === 0 ? `<p class="muted">${t("sv-no-data")}</p>` :
      `<table class="data"><tr><th>${t("sv-sent")}</th><th>${t("sv-recipe")}</th><th>${t("sv-minutes")}</th><th>${t("sv-first-article")}</th></tr>` +
      d.changeovers.map((c) => `<tr><td>${time(c.ended_ms)}</td><td class="l">${esc(c.from_recipe ?? "")} → ${esc(c.to_recipe)}</td><td>${fmt(c.minutes)}</td><td class="${c.passed ? "ok" : "refused"}">${c.passed ? t("sv-passed") : t("sv-failed")} · ${fmt(c.pull_gf_min)} / ${fmt(c.shear_gf_min)} gf</td></tr>`).join("") + "</table>";
  } catch (e) { $("detail-tile").textContent = err(e); }
}

// Excursions: every open process-health warning of the fleet ({S}/health), drifts first,
// and stations degrading together with the same likeliest cause.
async function loadExcursions() {
  let e;
  try { e = await invoke("fleet_excursions"); } catch (x) { $("exc-open").textContent = x.code === "login_required" ? t("sv-err-login") : err(x); return; }
  const cause = (c) => t("health-cause-" + c);
  $("exc-common").innerHTML = e.common.length === 0 ? `<p class="muted">${t("sv-no-commonality")}</p>` :
    `<table class="data"><tr><th>${t("sv-cause")}</th><th>${t("sv-stations")}</th><th>${t("sv-recipe")}</th><th></th></tr>` +
    e.common.map((c) => `<tr class="warn"><td class="l">${esc(cause(c.cause))}</td><td class="l">${c.stations.map(esc).join(", ")}</td><td>${esc(c.shared_recipe ?? t("sv-none"))}</td><td class="l">${c.points_at_lot ? t("sv-points-at-lot") : t("sv-shared-cause")}</td></tr>`).join("") + "</table>";
  $("exc-open").innerHTML = e.open.length === 0 ? `<p class="muted">${t("sv-no-excursions")}</p>` :
    `<table class="data"><tr><th>${t("sv-station")}</th><th>${t("sv-recipe")}</th><th>${t("sv-warning")}</th><th>${t("sv-causes")}</th><th>${t("sv-sent")}</th></tr>` +
    e.open.map((o) => `<tr><td>${esc(o.station)}</td><td>${esc(o.recipe ?? t("sv-none"))}</td><td class="l">${esc(S.lang === "zh-CN" ? o.text_zh : o.text_en)}</td><td class="l">${o.causes.filter((c) => c[1] >= 0.01).slice(0, 3).map((c) => `${esc(cause(c[0]))} ${Math.round(c[1] * 100)} %`).join(" · ")}</td><td>${time(o.since_ms)}</td></tr>`).join("") + "</table>";
}

async function loadRecipes() {
  try {
    S.recipes = await invoke("recipes_list");
  } catch (e) { $("recipe-msg").textContent = e.code === "login_required" ? t("sv-err-login") : err(e); return; }
  const tb = $("recipe-table");
  tb.innerHTML = `<tr><th>${t("sv-recipe")}</th><th>${t("sv-version")}</th><th>${t("sv-state")}</th><th>${t("sv-source")}</th><th>${t("sv-added")}</th><th>A</th><th>B</th></tr>` +
    S.recipes.map((r, i) => `<tr><td>${esc(r.name)}</td><td>${r.version}</td><td>${esc(t("recipe-state-" + r.state))}</td><td class="l">${esc(r.source)}</td><td>${time(r.added_ms)}</td>
      <td><input type="radio" name="ra" value="${i}" ${i === 0 ? "checked" : ""}></td><td><input type="radio" name="rb" value="${i}" ${i === Math.min(1, S.recipes.length - 1) ? "checked" : ""}></td></tr>`).join("");
  tb.querySelectorAll("input[name=ra]").forEach((el) => el.addEventListener("change", renderSendTitle));
  renderSendTitle();
  loadCommands();
}

function selected(name) {
  const el = document.querySelector(`input[name=${name}]:checked`);
  return el ? S.recipes[Number(el.value)] : null;
}

function renderSendTitle() {
  const a = selected("ra");
  $("send-title").textContent = a ? t("sv-send-title", { id: `${a.name}@${a.version}` }) : "";
}

async function diff() {
  const a = selected("ra"), b = selected("rb");
  renderSendTitle();
  if (!a || !b) return;
  try {
    const d = await invoke("recipe_diff", { aName: a.name, aVersion: a.version, bName: b.name, bVersion: b.version });
    $("diff-out").innerHTML = `<h3>${esc(t("sv-diff-title", { a: `${a.name}@${a.version}`, b: `${b.name}@${b.version}` }))}</h3>` +
      (d.length === 0 ? `<p class="muted">${t("sv-diff-none")}</p>` :
      `<table class="data" id="diff-table"><tr><th>${t("sv-field")}</th><th>${esc(a.name)}@${a.version}</th><th>${esc(b.name)}@${b.version}</th></tr>` +
      d.map((x) => `<tr><td>${esc(x.key)}</td><td class="diff-a">${esc(x.a ?? t("sv-none"))}</td><td class="diff-b">${esc(x.b ?? t("sv-none"))}</td></tr>`).join("") + "</table>");
  } catch (e) { $("diff-out").textContent = err(e); }
}

async function sendRecipe() {
  const a = selected("ra");
  const stations = [...$("send-stations").querySelectorAll("input:checked")].map((i) => i.value);
  if (!a) return;
  try {
    const sent = await invoke("recipe_send", { name: a.name, version: a.version, stations });
    $("send-msg").textContent = t("sv-send-done", { n: sent.filter((s) => s.request_id).length });
    loadCommands();
  } catch (e) {
    $("send-msg").textContent = e.code === "forbidden" ? t("sv-send-not-allowed") : e.code === "not_released" ? t("sv-send-not-released") : e.code === "login_required" ? t("sv-err-login") : err(e);
  }
}

async function loadCommands() {
  try {
    const rows = await invoke("commands_list", { limit: 30 });
    $("cmd-table").innerHTML = `<tr><th>${t("sv-request")}</th><th>${t("sv-station")}</th><th>${t("sv-kind")}</th><th>${t("sv-sent")}</th><th>${t("sv-by")}</th><th>${t("sv-answer")}</th></tr>` +
      rows.map((c) => `<tr><td>${esc(c.request_id)}</td><td class="l">${esc(c.station)}</td><td class="l">${esc(c.kind)} ${esc(c.summary)}</td><td>${time(c.sent_ms)}</td><td>${esc(c.by_user)}</td>
        <td class="${c.ok === null ? "" : c.ok ? "ok" : "refused"} l">${c.ok === null ? t("sv-answer-waiting") : c.ok ? t("sv-answer-ok") : esc(t("sv-answer-refused", { error: c.error }))}</td></tr>`).join("");
  } catch (e) { $("cmd-table").textContent = err(e); }
}

async function sendWorkOrder() {
  try {
    await invoke("workorder_send", { station: $("wo-station").value, workOrder: $("wo-number").value, device: $("wo-device").value, recipe: $("wo-recipe").value, quantity: Number($("wo-qty").value) });
    $("wo-msg").textContent = t("sv-send-done", { n: 1 });
    loadCommands();
  } catch (e) { $("wo-msg").textContent = e.code === "forbidden" ? t("sv-err-forbidden") : e.code === "login_required" ? t("sv-err-login") : err(e); }
}

function period() {
  const to = Date.now() + 60000;
  return { fromMs: to - Number($("report-period").value) * 3600000, toMs: to };
}

function table(cols, rows, id) {
  return `<table class="data" id="${id}"><tr>${cols.map((c) => `<th>${esc(c)}</th>`).join("")}</tr>` +
    rows.map((r) => `<tr class="${r.cls || ""}">${r.cells.map((c) => `<td>${esc(c)}</td>`).join("")}</tr>`).join("") + "</table>";
}

const DEFECTS = ["nsop", "nsol", "short_tail", "ball_size", "placement", "curve"];

async function runReport() {
  const kind = $("report-kind").value, scope = $("report-scope").value, p = period();
  S.lastReport = kind;
  $("report-msg").textContent = "";
  try {
    if (kind === "shift") {
      const r = await invoke("report_shift", { scope, ...p, idealWiresPerMin: Number($("report-ideal").value) });
      const row = (s, total) => ({ cls: total ? "total" : "", cells: [total ? t("sv-total") : s.station, s.wires, fmt(s.yield_pct, 2),
        ...DEFECTS.map((d) => s.rejects[d] ?? 0), fmt(s.e10.productive_min), fmt(s.e10.standby_min), fmt(s.e10.scheduled_down_min),
        fmt(s.e10.unscheduled_down_min), fmt(s.e10.non_scheduled_min), fmt(s.availability_pct), fmt(s.performance_pct), fmt(s.quality_pct), fmt(s.oee_pct)] });
      const cols = [t("sv-col-station"), t("sv-col-wires"), t("sv-col-yield"), ...DEFECTS.map((d) => t("defect-" + d)),
        t("sv-e10-productive"), t("sv-e10-standby"), t("sv-e10-scheduled"), t("sv-e10-unscheduled"), t("sv-e10-nonscheduled"),
        t("sv-col-availability"), t("sv-col-performance"), t("sv-col-quality"), t("sv-col-oee")];
      $("report-out").innerHTML = `<h3>${esc(scope.endsWith("/") || scope === "" ? t("sv-report-line") : t("sv-report-shift"))} · ${esc(scope || t("sv-scope-all"))} · ${time(p.fromMs)} – ${time(p.toMs)}</h3>` +
        table(cols, [...r.stations.map((s) => row(s, false)), row(r.total, true)], "report-table");
    } else {
      const r = await invoke("report_changeover", { scope, ...p });
      const cols = [t("sv-col-step"), t("sv-col-count"), t("sv-col-median"), t("sv-col-p90"), t("sv-col-max")];
      // Station step names (select, setup, …) have the station's Fluent names.
      const stepName = (n) => (S.strings["co-step-" + n] ?? n);
      const rows = r.steps.map((s) => ({ cells: [stepName(s.name), s.count, fmt(s.median_min), fmt(s.p90_min), fmt(s.max_min)] }));
      rows.push({ cls: "total", cells: [t("sv-total"), r.total.count, fmt(r.total.median_min), fmt(r.total.p90_min), fmt(r.total.max_min)] });
      const lines = r.changeovers.map((c) => ({ cells: [c.station, `${c.from_recipe ?? ""} → ${c.to_recipe}`, time(c.ended_ms), fmt(c.minutes), `${c.passed ? t("sv-passed") : t("sv-failed")} ${fmt(c.pull_gf_min)} / ${fmt(c.shear_gf_min)} gf`] }));
      $("report-out").innerHTML = `<h3>${esc(t("sv-report-changeover"))} · ${esc(scope || t("sv-scope-all"))}</h3>` + table(cols, rows, "report-table") +
        `<h3>${esc(t("sv-recent-changeovers"))}</h3>` + table([t("sv-station"), t("sv-recipe"), t("sv-sent"), t("sv-minutes"), t("sv-first-article")], lines, "co-table");
    }
  } catch (e) { $("report-msg").textContent = err(e); }
}

async function exportReport(format) {
  const p = period();
  try {
    const r = await invoke("report_export", { kind: $("report-kind").value, format, scope: $("report-scope").value, ...p, idealWiresPerMin: Number($("report-ideal").value) });
    $("report-msg").textContent = t("sv-exported", { path: r.path });
    if (r.html) {
      const f = $("print-frame");
      f.srcdoc = r.html;
      f.onload = () => { try { f.contentWindow.print(); } catch (_) { /* printing unavailable */ } };
    }
  } catch (e) { $("report-msg").textContent = err(e); }
}

async function runSpc() {
  try {
    const v = await invoke("spc_chart", { station: $("spc-station").value, measure: $("spc-measure").value, points: Number($("spc-points").value) });
    const r = v.result, low = (x) => (x !== null && x < 1.33) ? "low" : "";
    $("spc-cap").innerHTML = `<div class="cap">` +
      [["n", r.n, ""], ["x̄", fmt(r.mean, 3), ""], ["σ within", fmt(r.sigma_within, 3), ""], ["σ overall", fmt(r.sigma_overall, 3), ""],
       [t("sv-spc-lsl"), fmt(r.lsl, 2), ""], [t("sv-spc-usl"), fmt(r.usl, 2), ""],
       ["Cp", fmt(r.cp, 2), low(r.cp)], ["Cpk", fmt(r.cpk, 2), low(r.cpk)], ["Pp", fmt(r.pp, 2), low(r.pp)], ["Ppk", fmt(r.ppk, 2), low(r.ppk)]]
        .map(([k, val, c]) => `<div class="${c}" id="cap-${k.toLowerCase().replace(/[^a-z]/g, "")}">${esc(k)}<b>${esc(val)}</b></div>`).join("") + `</div>`;
    $("spc-chart").innerHTML = v.svg ?? `<p class="muted">${t("sv-no-data")}</p>`;
    const rules = [...new Set(r.violations.map((x) => x[1]))].sort();
    $("spc-rules").innerHTML = `<h3>${t("sv-spc-rules")}</h3>` + (rules.length === 0 ? `<p class="muted">${t("sv-spc-no-rules")}</p>` :
      `<ul>${rules.map((n) => `<li>${esc(t("sv-spc-rule-" + n))} — ${r.violations.filter((x) => x[1] === n).length}×</li>`).join("")}</ul>`);
  } catch (e) { $("spc-cap").textContent = err(e); }
}

async function loadSettings() {
  try {
    const g = await invoke("gateway_get");
    if (g.settings) { $("gw-url").value = g.settings.url; $("gw-client").value = g.settings.client_id; }
    $("gw-msg").textContent = g.last_error ?? "";
  } catch (e) { $("gw-msg").textContent = err(e); }
}

async function loadKey() {
  try {
    const k = await invoke("signing_key_get");
    $("key-kid").textContent = k.kid; $("key-fp").textContent = k.fingerprint; $("key-pem").textContent = k.public_pem;
  } catch (e) { $("key-msg").textContent = e.code === "login_required" ? t("sv-err-login") : err(e); }
}

async function exportKey() {
  try {
    const path = await invoke("signing_key_export", { dir: $("key-dir").value });
    $("key-msg").textContent = t("sv-key-exported", { path });
  } catch (e) { $("key-msg").textContent = e.code === "forbidden" ? t("sv-err-forbidden") : e.code === "login_required" ? t("sv-err-login") : err(e); }
}

async function saveSettings() {
  try {
    await invoke("gateway_set", { settings: { url: $("gw-url").value, client_id: $("gw-client").value, backfill: true } });
    $("gw-msg").textContent = t("sv-saved");
  } catch (e) { $("gw-msg").textContent = e.code === "forbidden" ? t("sv-err-forbidden") : e.code === "login_required" ? t("sv-err-login") : err(e); }
}

async function setLang(lang) {
  const r = await invoke("set_lang", { lang });
  S.strings = r.strings; S.lang = r.lang;
  applyStrings();
}

// Fleet latency to the painted tile: for every station status that is new since the
// last update, `Date.now() - status ts` once the tiles holding it are painted (the
// first animation frame after the DOM update, then a task: the frame has been drawn).
// A bounded ring of samples; `window.__fleetPaint()` gives {n, p50, p90, p99, max} in ms
// (n: samples held, total: samples ever taken). Statuses stamped before the page loaded
// (kept from an earlier run) and those that changed while another view was shown (never
// painted as they came) are not samples.
const PAINT = { ring: new Float64Array(4096), next: 0, total: 0, seen: new Map(), since: Date.now() };

function notePaint(tiles, painted) {
  const fresh = [];
  for (const x of tiles) {
    const ts = x.status_ts_ms;
    if (!(ts > 0) || PAINT.seen.get(x.id) === ts) continue;
    PAINT.seen.set(x.id, ts);
    if (painted && ts >= PAINT.since) fresh.push(ts);
  }
  if (fresh.length === 0) return;
  requestAnimationFrame(() => setTimeout(() => {
    const now = Date.now();
    for (const ts of fresh) {
      PAINT.ring[PAINT.next] = now - ts;
      PAINT.next = (PAINT.next + 1) % PAINT.ring.length;
      PAINT.total += 1;
    }
  }, 0));
}

window.__fleetPaint = () => {
  const n = Math.min(PAINT.total, PAINT.ring.length);
  const v = Array.from(PAINT.ring.subarray(0, n)).sort((a, b) => a - b);
  const pct = (p) => n === 0 ? null : v[Math.min(n, Math.max(1, Math.ceil(p / 100 * n))) - 1];
  return { n, total: PAINT.total, p50: pct(50), p90: pct(90), p99: pct(99), max: n === 0 ? null : v[n - 1] };
};

function watchFleet() {
  const ch = new Channel();
  ch.onmessage = (m) => {
    if (m.type === "tiles") {
      S.tiles = m.tiles; S.link = m.link;
      renderLink();
      const onFleet = S.view === "fleet";
      if (onFleet) renderTiles(); else fillStationSelects();
      if (S.view === "excursions") loadExcursions();
      notePaint(m.tiles, onFleet);
      window.__lastTilesMs = m.sent_ms;
    } else if (m.type === "result" && S.view === "recipes") {
      loadCommands();
    }
  };
  invoke("fleet_watch", { onUpdate: ch });
}

async function main() {
  const r = await invoke("i18n_strings");
  S.strings = r.strings; S.lang = r.lang;
  S.session = await invoke("session");
  S.first = await invoke("first_start");
  document.querySelectorAll("nav button").forEach((b) => b.addEventListener("click", () => show(b.dataset.view)));
  $("lang-toggle").addEventListener("click", () => setLang(S.lang === "zh-CN" ? "en-US" : "zh-CN"));
  $("detail-back").addEventListener("click", () => { S.detail = null; show("fleet"); renderTiles(); });
  $("bf-send").addEventListener("click", async () => {
    try { $("bf-out").textContent = await invoke("backfill", { station: S.detail, fromSeq: Number($("bf-from").value), toSeq: Number($("bf-to").value) }); }
    catch (e) { $("bf-out").textContent = e.code === "login_required" ? t("sv-err-login") : err(e); }
  });
  $("diff-btn").addEventListener("click", diff);
  $("send-btn").addEventListener("click", sendRecipe);
  $("release-btn").addEventListener("click", releaseRecipe);
  $("wo-send").addEventListener("click", sendWorkOrder);
  $("recipe-file").addEventListener("change", async (ev) => {
    const f = ev.target.files[0];
    if (!f) return;
    try { const id = await invoke("recipe_import", { doc: await f.text() }); $("recipe-msg").textContent = t("sv-imported", { id }); loadRecipes(); }
    catch (e) { $("recipe-msg").textContent = e.code === "login_required" ? t("sv-err-login") : e.code === "recipe_conflict" ? t("sv-recipe-conflict", { detail: e.detail }) : err(e); }
  });
  $("report-run").addEventListener("click", runReport);
  $("export-csv").addEventListener("click", () => exportReport("csv"));
  $("export-xlsx").addEventListener("click", () => exportReport("xlsx"));
  $("export-print").addEventListener("click", () => exportReport("html"));
  $("spc-run").addEventListener("click", runSpc);
  $("gw-save").addEventListener("click", saveSettings);
  $("key-export").addEventListener("click", exportKey);
  $("user-add-form").addEventListener("submit", addUser);
  $("pw-form").addEventListener("submit", savePassword);
  $("pw-cancel").addEventListener("click", () => $("pw-dialog").close());
  $("login-open").addEventListener("click", openSignIn);
  $("setup-form").addEventListener("submit", createAdmin);
  $("setup-dialog").addEventListener("cancel", (ev) => { if (S.first.needed) ev.preventDefault(); });
  $("setup-lang").addEventListener("click", () => setLang(S.lang === "zh-CN" ? "en-US" : "zh-CN"));
  $("logout-btn").addEventListener("click", async () => { await invoke("logout"); S.session = null; renderUser(); openSignIn(); });
  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      S.session = await invoke("login", { user: $("login-user").value, password: $("login-pass").value });
      $("login-pass").value = "";
      $("login-dialog").close();
      signedIn();
    } catch (e) { $("login-pass").value = ""; $("login-msg").textContent = loginError(e); }
  });
  applyStrings();
  // Nothing of the plant is shown before a sign-in (the commands refuse it too).
  $("login-dialog").addEventListener("cancel", (ev) => { if (!S.session) ev.preventDefault(); });
  if (S.session) signedIn(); else openSignIn();
  setInterval(pollSession, 5000);
  document.body.dataset.ready = "1";
}

main().catch((e) => { document.body.textContent = "startup failed: " + err(e); });
