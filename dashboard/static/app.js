// goap ui: the page. Plain JavaScript, no build. Everything it shows comes from the server's
// snapshots (server-sent events on /api/events); every text from a catalog or a run is set
// with textContent, never as HTML. Writes carry the token as `Authorization: Bearer`.
"use strict";

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "goap-ui-token";
let snapshot = null;
let clockOffset = 0; // local clock minus the server's, so live timers do not drift
let graphKey = null;
let artifactsKey = null;
let chosenRun = null; // the run the timeline shows (null: the newest)
let openSeq = null;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("data-") || key === "style") node.setAttribute(key, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node[key] = value;
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
}

function seconds(s) {
  if (s == null) return "";
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - 60 * m)} s`;
}

function elapsed(startedAt) {
  return Math.max(0, (Date.now() - clockOffset - Date.parse(startedAt)) / 1000);
}

function progressText(p) {
  if (!p) return "";
  const parts = [];
  if ("step" in p) parts.push(`step ${p.step}` + (p.total != null ? `/${p.total}` : ""));
  for (const [k, v] of Object.entries(p)) {
    if (k === "step" || k === "total" || k === "message") continue;
    parts.push(`${k} ${typeof v === "number" && !Number.isInteger(v) ? v.toPrecision(4) : v}`);
  }
  if ("message" in p) parts.push(String(p.message));
  return parts.join(" · ");
}

// ------------------------------------------------------------------ token and writes

function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

function takeTokenFromFragment() {
  const match = location.hash.match(/token=([^&]+)/);
  if (match) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
  showTokenState();
}

function showTokenState() {
  $("token-state").textContent = token() ? "token set: writes allowed" : "no token: read-only";
}

function say(text, isError = false) {
  $("message").textContent = text;
  $("message").className = isError ? "error" : "";
}

async function write(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Authorization": `Bearer ${token()}`, "Content-Type": "application/json" },
    body: JSON.stringify(body || {}),
  });
  let document = {};
  try { document = await response.json(); } catch (_) { /* not JSON: keep the status */ }
  if (!response.ok) throw new Error(document.error || `${response.status} ${response.statusText}`);
  return document;
}

async function startRun() {
  $("run").disabled = true;
  try {
    const started = await write("/api/run");
    say(`started goap run (pid ${started.pid}); its output: ${started.log}`);
  } catch (error) {
    say(`run: ${error.message}`, true);
  } finally {
    render();
  }
}

async function answer(action, approve) {
  const why = approve ? "" : (prompt(`Why deny ${action}? (optional)`) || "");
  try {
    await write(`/api/approvals/${encodeURIComponent(action)}`, { approve, why });
    say(`${approve ? "approved" : "denied"} ${action}`);
  } catch (error) {
    say(`${action}: ${error.message}`, true);
  }
}

// ------------------------------------------------------------------ rendering

function thisRun(doc) {
  return (doc.attempts || []).filter((a) => a.run_id === doc.run_id);
}

function stepStates(doc) {
  const states = new Map();
  for (const a of thisRun(doc)) {
    const look = { succeeded: "done", failed: "failed", started: "running" }[a.outcome] || "interrupted";
    states.set(a.action, { state: look, attempt: a });
  }
  for (const a of doc.in_flight || []) states.set(a.action, { state: "running", attempt: a });
  return states;
}

function renderHeader(doc) {
  $("catalog").textContent = doc.catalog;
  $("status").textContent = doc.status;
  $("status").dataset.status = doc.status;
  document.title = `goap ui: ${doc.catalog} (${doc.status})`;
  $("paths").textContent = `state ${doc.state_path} · workdir ${doc.workdir}` +
    (doc.lock && doc.lock.held ? ` · held by pid ${doc.lock.pid}` : "");
  const own = doc.dashboard_run;
  const busy = (doc.lock && doc.lock.held) || (own && own.running);
  $("run").disabled = !!busy || doc.status === "unreadable";
  $("run").textContent = ["running", "interrupted"].includes(doc.status) && !busy ? "Resume" : "Run";
}

function renderSteps(doc) {
  const states = stepStates(doc);
  const names = [];
  for (const a of thisRun(doc)) if (!names.includes(a.action)) names.push(a.action);
  const planned = doc.run_id ? (doc.plan || []) : ((doc.next_plan || {}).plan || []);
  for (const name of planned) if (!names.includes(name)) names.push(name);
  const list = $("steps");
  list.replaceChildren();
  for (const name of names) {
    const found = states.get(name);
    const state = found ? found.state : "pending";
    const mark = { done: "✓", failed: "✗", running: "◐", interrupted: "!", pending: "·" }[state];
    const item = el("li", { class: "step", "data-action": name, "data-state": state },
      el("span", { class: "mark", text: mark }),
      el("span", { class: "name", text: name }));
    if (found) {
      const a = found.attempt;
      item.append(el("span", { class: "dim", text: `attempt ${a.attempt}` }));
      if (state === "running") {
        item.append(el("span", { class: "timer", "data-started": a.started_at }));
        item.append(el("span", { class: "progress", text: progressText(a.progress) }));
        if (a.job) item.append(el("span", { class: "dim", text: `job ${a.job.backend} ${a.job.id}` }));
      } else {
        item.append(el("span", { class: "timer", text: seconds(a.duration_s) }));
        if (a.error) item.append(el("span", { class: "dim", text: a.error }));
      }
    }
    list.append(item);
  }
  if (!names.length) list.append(el("li", { class: "dim", text: "nothing planned" }));
  const running = (doc.in_flight || []).length;
  $("steps-note").textContent = doc.run_id
    ? `run ${doc.run_id}` + (running ? ` · ${running} in flight` : "") : "no run yet";
  const report = $("report");
  report.hidden = !doc.report;
  report.textContent = doc.report ? `escalation report: ${doc.report}` : "";
  if (doc.error) { report.hidden = false; report.textContent = doc.error; }
  $("failures").replaceChildren(...(doc.failures || []).map((f) =>
    el("li", { text: `${f.action} failed after ${f.attempts} attempts (${f.at}): ${f.error}` })));
}

function renderTimers() {
  for (const node of document.querySelectorAll("[data-started]")) {
    node.textContent = seconds(elapsed(node.dataset.started));
  }
  if (document.querySelector(".bar[data-live]")) layoutBars();
}

async function renderGraph(doc) {
  const plan = doc.next_plan || {};
  const states = [...stepStates(doc)].map(([k, v]) => `${k}=${v.state}`).join(",");
  const key = `${(plan.plan || []).join(",")}|${states}`;
  $("plan-note").textContent = plan.status === "found" && !(plan.plan || []).length
    ? "the goal holds in the persisted world: nothing to do"
    : plan.status === "found"
    ? `optimal plan from the persisted world: ${(plan.plan || []).length} steps, cost ${plan.cost}` +
      (plan.waves ? ` in ${plan.waves.length} waves` : "")
    : (plan.message || "");
  if (key === graphKey) return;
  graphKey = key;
  const response = await fetch("/api/graph.svg");
  if (response.ok) $("graph").innerHTML = await response.text(); // the server escapes every label
}

function renderRunPicker(doc) {
  const runs = [...new Set((doc.attempts || []).map((a) => a.run_id))];
  const pick = $("run-pick");
  const want = chosenRun && runs.includes(chosenRun) ? chosenRun : (runs[runs.length - 1] || "");
  pick.replaceChildren(...runs.map((r) => el("option", { value: r, text: `run ${r}` })));
  pick.value = want;
  return want;
}

let lanes = [];
function renderTimeline(doc) {
  const run = renderRunPicker(doc);
  const attempts = (doc.attempts || []).filter((a) => a.run_id === run);
  const box = $("timeline");
  box.replaceChildren();
  lanes = [];
  if (!attempts.length) { box.append(el("div", { class: "dim", text: "no attempts yet" })); return; }
  const order = [];
  for (const a of attempts) if (!order.includes(a.action)) order.push(a.action);
  for (const name of order) {
    const track = el("div", { class: "track" });
    for (const a of attempts.filter((x) => x.action === name)) {
      const bar = el("div", {
        class: "bar", "data-outcome": a.outcome, "data-seq": String(a.seq),
        title: `${a.action} attempt ${a.attempt}: ${a.outcome}` + (a.duration_s != null ? `, ${seconds(a.duration_s)}` : "") + (a.error ? ` (${a.error})` : ""),
        onclick: () => showAttempt(a.seq),
      });
      if (a.outcome === "started") bar.setAttribute("data-live", "1");
      bar._attempt = a;
      track.append(bar);
    }
    box.append(el("div", { class: "lane", "data-action": name }, el("div", { class: "label", text: name, title: name }), track));
  }
  box.append(el("div", { class: "axis", id: "axis" }));
  lanes = attempts;
  layoutBars();
}

function layoutBars() {
  if (!lanes.length) return;
  const start = Math.min(...lanes.map((a) => Date.parse(a.started_at)));
  const end = Math.max(...lanes.map((a) => a.ended_at ? Date.parse(a.ended_at) : Date.now() - clockOffset), start + 1000);
  const span = end - start;
  for (const bar of document.querySelectorAll(".bar")) {
    const a = bar._attempt;
    const from = Date.parse(a.started_at);
    const to = a.ended_at ? Date.parse(a.ended_at) : Date.now() - clockOffset;
    bar.style.left = `${(100 * (from - start)) / span}%`;
    bar.style.width = `${Math.max(0.3, (100 * (to - from)) / span)}%`;
    bar.textContent = a.ended_at ? seconds(a.duration_s ?? (to - from) / 1000) : seconds((to - from) / 1000);
  }
  const axis = $("axis");
  if (axis) {
    axis.replaceChildren();
    for (let i = 0; i <= 4; i++) {
      axis.append(el("span", { text: seconds((span * i) / 4000), style: `left:${25 * i}%` }));
    }
  }
}

async function showAttempt(seq) {
  openSeq = seq;
  const box = $("detail");
  const response = await fetch(`/api/attempts/${seq}`);
  const a = await response.json();
  box.hidden = false;
  if (!response.ok) { box.replaceChildren(el("div", { text: a.error })); return; }
  const facts = Object.keys(a.facts || {}).length ? JSON.stringify(a.facts, null, 2) : null;
  box.replaceChildren(...[
    el("h3", { text: `${a.action} · attempt ${a.attempt} · ${a.outcome}` + (a.duration_s != null ? ` · ${seconds(a.duration_s)}` : "") }),
    el("div", { class: "dim", text: `started ${a.started_at}` + (a.ended_at ? `, ended ${a.ended_at}` : "") + (a.forced ? " · forced" : "") + ` · via ${a.via}` }),
    a.error ? el("div", { class: "report", text: a.error }) : null,
    facts ? el("h3", { text: "facts" }) : null, facts ? el("pre", { text: facts }) : null,
    a.job ? el("div", { text: `job: ${JSON.stringify(a.job)}` }) : null,
    a.log ? el("h3", { text: `log ${a.log.path} (${a.log.bytes} bytes${a.log.cut ? ", its end" : ""})` }) : el("div", { class: "dim", text: "no log file" }),
    a.log ? el("pre", { class: "log", text: a.log.tail }) : null,
    a.tail && !a.log ? el("pre", { text: a.tail }) : null,
  ].filter((node) => node != null));
}

function renderWorld(doc) {
  const rows = [];
  const walk = (prefix, value) => {
    if (value && typeof value === "object" && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) walk(prefix ? `${prefix}.${k}` : k, v);
    } else rows.push([prefix, value]);
  };
  walk("", doc.world_state || {});
  $("world").tBodies[0].replaceChildren(...rows.map(([k, v]) =>
    el("tr", { "data-var": k }, el("td", { text: k }), el("td", { class: "value", text: JSON.stringify(v) }))));
}

async function renderArtifacts(doc) {
  const key = `${doc.attempts_total}|${doc.status}`;
  if (key === artifactsKey) return;
  artifactsKey = key;
  const response = await fetch("/api/artifacts");
  if (!response.ok) return;
  const found = await response.json();
  const files = found.artifacts.files;
  $("artifacts").tBodies[0].replaceChildren(...(files.length ? files.map((f) =>
    el("tr", {}, el("td", { text: f.path }), el("td", { text: String(f.bytes) }),
      el("td", { text: new Date(f.modified_ns / 1e6).toLocaleString() })))
    : [el("tr", {}, el("td", { class: "dim", text: `nothing under ${found.artifacts.root}` }))]));
  $("registry-root").textContent = found.registry.root;
  const registry = $("registry");
  registry.replaceChildren();
  for (const model of found.registry.models) {
    for (const v of model.versions) {
      const report = v.validation_report;
      const passed = report && typeof report === "object" && "passed" in report ? (report.passed ? "gates passed" : "gates failed") : "";
      registry.append(el("details", {},
        el("summary", { text: `${model.name} ${v.version} · ${(v.manifest.files || []).length} files · ${v.manifest.created_at || ""} ${passed}` }),
        el("pre", { text: JSON.stringify(v.manifest, null, 2) }),
        report ? el("pre", { text: JSON.stringify(report, null, 2) }) : null));
    }
  }
  if (!found.registry.models.length) registry.append(el("div", { class: "dim", text: "no published versions" }));
}

function renderApprovals(doc) {
  const pending = doc.approvals || [];
  $("approvals-section").hidden = !pending.length;
  $("approvals").replaceChildren(...pending.map((p) =>
    el("li", { class: "approval", "data-action": p.action },
      el("span", { class: "name", text: p.action }),
      el("span", { class: "dim", text: `${p.reason || ""} (asked ${p.requested_at})` }),
      el("button", { class: "approve", type: "button", text: "Approve", onclick: () => answer(p.action, true) }),
      el("button", { class: "deny", type: "button", text: "Deny", onclick: () => answer(p.action, false) }))));
}

function render() {
  const doc = snapshot;
  if (!doc) return;
  renderHeader(doc);
  renderApprovals(doc);
  renderSteps(doc);
  renderTimeline(doc);
  renderWorld(doc);
  renderGraph(doc).catch(() => {});
  renderArtifacts(doc).catch(() => {});
  if (openSeq != null && (doc.in_flight || []).some((a) => a.seq === openSeq)) showAttempt(openSeq);
  renderTimers();
}

// ------------------------------------------------------------------ live updates

function connect() {
  const source = new EventSource("/api/events");
  source.addEventListener("snapshot", (event) => {
    snapshot = JSON.parse(event.data);
    clockOffset = Date.now() - Date.parse(snapshot.server_time);
    $("live").textContent = "live";
    document.body.dataset.updated = String(Date.now());
    render();
  });
  source.addEventListener("error", () => { $("live").textContent = "disconnected: retrying…"; });
}

window.addEventListener("DOMContentLoaded", () => {
  takeTokenFromFragment();
  $("token-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const given = $("token").value.trim();
    $("token").value = "";
    sessionStorage.setItem(TOKEN_KEY, given);
    try { await write("/api/token"); say("token accepted"); }
    catch (error) { sessionStorage.removeItem(TOKEN_KEY); say(`token: ${error.message}`, true); }
    showTokenState();
  });
  $("run").addEventListener("click", startRun);
  $("run-pick").addEventListener("change", (event) => { chosenRun = event.target.value; render(); });
  connect();
  setInterval(renderTimers, 250);
});
