// The studio's page: plain JavaScript, no library. Every call goes to this studio's own server (same origin), with
// the CSRF token the page was given; every error is one line in the bar at the top.
"use strict";

const CSRF = document.querySelector('meta[name="csrf"]').content;
const LINT_DELAY_MS = 250;
const $ = id => document.getElementById(id);

const state = {
  path: null,        // the script open in the editor, relative to the studio's folder
  sha256: null,      // the SHA-256 of the file as the page last read or wrote it: a save compares it
  saved: "",         // the text as it is on disk
  version: 0,        // bumped on every edit: a lint answer for older text is dropped
  diagnostics: [],
  rendering: null,   // the AbortController of a render under way
};

if (new URLSearchParams(location.search).has("token")) {
  history.replaceState(null, "", location.pathname + location.hash);  // the cookie carries it now
}

// --- talking to the server ---------------------------------------------------------------------------

class ApiError extends Error {
  constructor(message, status, body) { super(message); this.status = status; this.body = body; }
}

async function api(method, url, body) {
  const options = { method, headers: { "X-CSRF-Token": CSRF } };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, options);
  } catch (e) {
    throw new ApiError("the studio is not answering: is `drift studio` still running?", 0, null);
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(oneLine(data.error || `${response.status} ${response.statusText}`), response.status, data);
  return data;
}

const oneLine = text => String(text).split(/\s+/).join(" ").trim();

function showError(error) {
  $("error-text").textContent = oneLine(error && error.message ? error.message : error);
  $("error").hidden = false;
}
function clearError() { $("error").hidden = true; }
$("error-close").addEventListener("click", clearError);

function status(id, text, busy = false) {
  const node = $(id);
  node.textContent = text;
  node.classList.toggle("busy", busy);
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? "" : v);
  }
  node.append(...children.filter(c => c !== undefined && c !== null));
  return node;
}

const clock = s => `${Math.floor(s / 60)}:${String(Math.round(s % 60)).padStart(2, "0")}`;
const minus = v => String(v).replace(/-(?=\d)/g, "\u2212");

// --- describe ------------------------------------------------------------------------------------------

const form = $("intake");
form.ending.addEventListener("change", () => {
  form.bed_until.disabled = form.ending.value !== "asleep";
  if (form.bed_until.disabled) form.bed_until.value = "";
});

form.addEventListener("submit", async event => {
  event.preventDefault();
  if (!(await leaveUnsaved())) return;
  clearError();
  const f = form.elements;
  const intake = {
    description: f.description.value, name: f.name.value, partner: f.partner.value, mode: form.mode.value,
    minutes: Number(f.minutes.value), ending: f.ending.value, bed_until: f.bed_until.value, voice: f.voice.value,
    ambience: f.ambience.value, keep: f.keep.checked,
  };
  $("draft").disabled = true;
  $("stopped").hidden = $("understood").hidden = true;
  status("draft-status", "reading and drafting…", true);
  try {
    const answer = await api("POST", "/api/draft", intake);
    if (answer.stopped) {
      showStopped(answer);
      status("draft-status", "");
      return;
    }
    showUnderstood(answer);
    openScript(answer.path, answer.text, answer.sha256, answer);
    status("draft-status", `wrote ${answer.path}${answer.kept ? " (your description kept beside it)" : ""}`);
    await refreshScripts(answer.path);
  } catch (error) {
    status("draft-status", "");
    showError(error);
  } finally {
    $("draft").disabled = false;
  }
});

function showStopped(answer) {
  $("stopped-message").textContent = answer.message;
  const list = $("stopped-resources");
  list.replaceChildren(...answer.resources.map(r => el("li", {}, el("strong", {}, r.name), ` (${r.where}): ${r.how}`)));
  $("stopped").hidden = false;
}

function showUnderstood(answer) {
  const u = answer.understanding, chosen = new Set(u.chosen.map(t => t.id));
  $("themes").replaceChildren(...u.themes.slice(0, 5).map(t => {
    const meter = el("span");
    meter.style.width = `${Math.round(t.confidence * 100)}%`;
    return el("tr", { class: chosen.has(t.id) ? "chosen" : "" }, el("td", {}, t.label),
              el("td", { class: "meter" }, meter), el("td", {}, t.confidence.toFixed(2)));
  }));
  const facts = [
    ["chosen", u.chosen.map(t => t.label).join(", ")],
    ["situation", u.situation || "none named"],
    ["the other person", u.other || "not named"],
    ["said back", u.moment ? `“${u.moment}”` : "a written line"],
    ["length", `${answer.minutes} minutes (the modules take about ${answer.estimated_minutes})`],
  ];
  $("understood-facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  $("understood").hidden = false;
}

// --- the scripts -----------------------------------------------------------------------------------------

async function refreshScripts(select) {
  const st = await api("GET", "/api/state");
  const list = $("scripts");
  list.replaceChildren(...st.scripts.map(p => el("option", { value: p, selected: p === (select || state.path) }, p)));
  return st;
}

$("open").addEventListener("click", async () => {
  const path = $("scripts").value;
  if (!path || !(await leaveUnsaved())) return;
  try {
    clearError();
    const data = await api("GET", `/api/script?path=${encodeURIComponent(path)}`);
    openScript(data.path, data.text, data.sha256, data);
  } catch (error) { showError(error); }
});

async function leaveUnsaved() {
  return !dirty() || window.confirm("The script in the editor has unsaved changes. Drop them?");
}

// --- edit ---------------------------------------------------------------------------------------------

const text = $("text");
const dirty = () => state.path !== null && text.value !== state.saved;

function openScript(path, body, sha256, lint) {
  state.path = path;
  state.sha256 = sha256;
  state.saved = body;
  text.value = body;
  text.disabled = false;
  $("file-name").textContent = path;
  for (const id of ["save", "preview", "render"]) $(id).disabled = false;
  $("conflict").hidden = true;
  state.version++;
  layout();
  showDiagnostics(lint || { diagnostics: [], errors: 0, warnings: 0 });
  updateSaved();
  text.setSelectionRange(0, 0);
  text.scrollIntoView({ block: "nearest" });
}

function updateSaved(message) {
  status("save-status", message || (dirty() ? "unsaved changes" : "saved"));
}

let lintTimer = null;
text.addEventListener("input", () => {
  state.version++;
  layout();
  updateSaved();
  clearTimeout(lintTimer);
  lintTimer = setTimeout(lint, LINT_DELAY_MS);
});
text.addEventListener("keydown", event => {
  if ((event.ctrlKey || event.metaKey) && event.key === "s") { event.preventDefault(); save(); }
});
window.addEventListener("resize", () => { layout(); placeNotes(); });
window.addEventListener("beforeunload", event => { if (dirty()) event.preventDefault(); });

async function lint() {
  if (state.path === null) return;
  const version = state.version;
  try {
    const answer = await api("POST", "/api/lint", { path: state.path, text: text.value });
    if (version === state.version) showDiagnostics(answer);
  } catch (error) { showError(error); }
}

// The mirror holds the same text as the textarea, line by line, in the same font and width: it measures where each
// line sits once wrapped (for the gutter and the notes), and its lines are tinted where lint found something.
function layout() {
  const lines = text.value.split("\n");
  const mirror = $("mirror");
  mirror.replaceChildren(...lines.map(line => el("div", {}, line || "\u200b")));
  text.style.height = `${Math.max(mirror.scrollHeight, 320)}px`;
  const gutter = $("gutter");
  gutter.replaceChildren(...[...mirror.children].map((row, i) => {
    const number = el("span", { "data-line": i + 1 }, String(i + 1));
    number.style.top = `${row.offsetTop}px`;
    return number;
  }));
  markLines();
}

function markLines() {
  const mirror = $("mirror"), gutter = $("gutter");
  for (const row of mirror.children) row.className = "";
  for (const n of gutter.children) n.className = "";
  for (const d of state.diagnostics) {
    if (d.file || d.line < 1 || d.line > mirror.children.length) continue;
    const row = mirror.children[d.line - 1];
    const kind = row.className === "lint-error" ? "lint-error" : `lint-${d.severity}`;  // an error outranks a warning
    row.className = gutter.children[d.line - 1].className = kind;
  }
}

function showDiagnostics(answer) {
  state.diagnostics = answer.diagnostics;
  const notes = $("notes"), general = $("general");
  const lines = $("mirror").children.length;
  notes.replaceChildren();
  general.replaceChildren();
  for (const d of answer.diagnostics) {
    const where = d.file ? `${d.file}${d.line ? `:${d.line}:${d.col}` : ""}` : d.line ? `${d.line}:${d.col}` : "";
    const message = [el("span", { class: "where" }, where), " ", d.message, d.hint ? el("span", { class: "hint" }, d.hint) : null];
    if (!d.file && d.line >= 1 && d.line <= lines) {
      const note = el("div", { class: `note ${d.severity}`, "data-line": d.line, title: "go to it" }, ...message);
      note.addEventListener("click", () => goTo(d.line, d.col));
      notes.append(note);
    } else {
      general.append(el("li", { class: d.severity }, ...message));
    }
  }
  markLines();
  placeNotes();
  const summary = $("lint-summary");
  const parts = [];
  if (answer.errors) parts.push(`${answer.errors} error${answer.errors > 1 ? "s" : ""}`);
  if (answer.warnings) parts.push(`${answer.warnings} warning${answer.warnings > 1 ? "s" : ""}`);
  summary.textContent = parts.length ? `lint: ${parts.join(", ")}` : "lint: no problems (style check included)";
  summary.className = `lint-summary ${answer.errors ? "errors" : answer.warnings ? "warnings" : "clean"}`;
}

// Each note beside its line; notes that would overlap are pushed down, in line order.
function placeNotes() {
  const rows = $("mirror").children;
  let bottom = 0;
  for (const note of $("notes").children) {
    const row = rows[Number(note.dataset.line) - 1];
    if (!row) continue;
    const top = Math.max(row.offsetTop, bottom);
    note.style.top = `${top}px`;
    bottom = top + note.offsetHeight + 2;
  }
  $("notes").style.minHeight = `${bottom}px`;
}

function goTo(line, col) {
  const lines = text.value.split("\n");
  let offset = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0) + Math.max(col - 1, 0);
  text.focus();
  text.setSelectionRange(offset, offset);
}

// --- saving --------------------------------------------------------------------------------------------

async function save(base = state.sha256) {
  if (state.path === null) return false;
  const body = text.value;
  try {
    clearError();
    const answer = await api("PUT", "/api/script", { path: state.path, text: body, base_sha256: base });
    state.sha256 = answer.sha256;
    state.saved = body;
    $("conflict").hidden = true;
    updateSaved(dirty() ? "unsaved changes" : "saved");
    return true;
  } catch (error) {
    if (error.status === 409) {
      state.conflictSha = error.body.current_sha256 || null;
      $("conflict").hidden = false;
      updateSaved("not saved: the file changed elsewhere");
      return false;
    }
    showError(error);
    return false;
  }
}

$("save").addEventListener("click", () => save());
$("overwrite").addEventListener("click", () => save(state.conflictSha));
$("keep-editing").addEventListener("click", () => { $("conflict").hidden = true; updateSaved(); });
$("theirs").addEventListener("click", async () => {
  try {
    const data = await api("GET", `/api/script?path=${encodeURIComponent(state.path)}`);
    openScript(data.path, data.text, data.sha256, data);
  } catch (error) { showError(error); }
});

async function saveFirst() {
  if (!dirty()) return true;
  const saved = await save();
  if (saved) updateSaved("saved first");
  return saved;
}

// --- listen -------------------------------------------------------------------------------------------

// The section the cursor is in: the last heading at or above it (front matter and // comments are not headings).
function sectionAtCursor() {
  const lines = text.value.split("\n");
  const cursorLine = text.value.slice(0, text.selectionStart).split("\n").length - 1;
  let start = 0;
  if (lines[0] && lines[0].trim() === "---") {
    const end = lines.findIndex((l, i) => i > 0 && l.trim() === "---");
    start = end > 0 ? end + 1 : 0;
  }
  let first = null, current = null;
  for (let i = start; i < lines.length; i++) {
    const heading = lines[i].trim().match(/^#{1,6}\s+(.*?)\s*#*\s*$/);
    if (!heading || !heading[1]) continue;
    first = first ?? heading[1];
    if (i <= cursorLine) current = heading[1];
  }
  return current ?? first;
}

$("preview").addEventListener("click", async () => {
  clearError();
  if (!(await saveFirst())) return;
  const section = sectionAtCursor();
  $("preview").disabled = true;
  status("preview-status", `rendering ${section ? `“${section}”` : "the first minute"} with the draft voice…`, true);
  const started = performance.now();
  try {
    const answer = await api("POST", "/api/preview", { path: state.path, section });
    const player = $("player");
    player.hidden = false;
    player.dataset.section = section || "";
    player.onload = () => startPlaying(player);
    player.src = `${answer.url}?t=${Date.now()}`;
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    status("preview-status", `${section ? `“${section}”` : "the first minute"}: ${clock(answer.start_s)}–${clock(answer.end_s)}` +
                             ` (${answer.reused ? "unchanged, reused" : `made in ${seconds} s`})`);
  } catch (error) {
    status("preview-status", "");
    showError(error);
  } finally {
    $("preview").disabled = false;
  }
});

// Play the preview as soon as its page is ready (the person asked to hear it); its own Play button pauses.
function startPlaying(frame) {
  const page = frame.contentWindow;
  const ready = () => page.preview && Object.values(page.preview.elements).every(a => a.readyState >= 2);
  let tries = 0;
  const attempt = () => {
    frame.style.height = `${page.document.documentElement.scrollHeight + 4}px`;  // the whole player, no inner scroll
    if (ready()) {
      const button = page.document.getElementById("play");
      if (page.preview.elements.mix.paused) button.click();
    } else if (tries++ < 100) {
      setTimeout(attempt, 100);
    }
  };
  attempt();
}

const STAGES = [["speech", "speech", 0.55], ["mix", "mix", 0.05], ["master", "master", 0.15], ["encode", "encode", 0.15], ["qc", "quality checks", 0.10]];

function showProgress(stage, done, total) {
  const index = STAGES.findIndex(s => s[0] === stage);
  if (index < 0) return;
  const items = $("stages").children;
  STAGES.forEach((s, i) => { items[i].className = i < index ? "done" : i === index ? "active" : ""; });
  const label = STAGES[index][1];
  const count = !total ? "" : stage === "speech" ? ` ${done}/${total} phrases` : stage === "qc" ? ` of ${total} file${total > 1 ? "s" : ""}`
                : ` ${Math.floor(100 * done / total)} %`;
  items[index].textContent = label + count;
  const before = STAGES.slice(0, index).reduce((n, s) => n + s[2], 0);
  const fraction = before + STAGES[index][2] * (total ? done / total : 0);
  $("bar").style.width = `${Math.round(fraction * 100)}%`;
}

function resetProgress() {
  $("stages").replaceChildren(...STAGES.map(([, label]) => el("li", {}, label)));
  $("bar").style.width = "0";
  $("progress").hidden = false;
  $("verdict").hidden = true;
}

$("render").addEventListener("click", async () => {
  clearError();
  if (!(await saveFirst())) return;
  const controller = new AbortController();
  state.rendering = controller;
  $("render").disabled = true;
  $("stop").hidden = false;
  resetProgress();
  let ended = false;
  try {
    const response = await fetch("/api/render", {
      method: "POST", signal: controller.signal,
      headers: { "X-CSRF-Token": CSRF, "Content-Type": "application/json" },
      body: JSON.stringify({ path: state.path, release: $("release").checked }),
    });
    if (!response.ok) {
      const data = await response.json().catch(() => ({}));
      throw new ApiError(data.error || `${response.status} ${response.statusText}`, response.status, data);
    }
    // Server-Sent Events, read from the response as it arrives (a POST: EventSource can only GET)
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const kind = (block.match(/^event: (.*)$/m) || [])[1];
        const data = (block.match(/^data: (.*)$/m) || [])[1];
        if (!kind || !data) continue;  // a comment: the render is still going
        ended = onRenderEvent(kind, JSON.parse(data)) || ended;
      }
    }
    if (!ended) throw new ApiError("the render ended without a result", 0, null);
  } catch (error) {
    if (error.name === "AbortError") showVerdict({ status: "stopped" });
    else showError(error);
  } finally {
    state.rendering = null;
    $("render").disabled = false;
    $("stop").hidden = true;
    refreshLibrary();
  }
});

function onRenderEvent(kind, data) {
  if (kind === "progress") {
    if (STAGES.some(s => s[0] === data.stage)) showProgress(data.stage, data.done, data.total);
    return false;
  }
  if (kind === "result") {
    $("bar").style.width = "100%";
    for (const item of $("stages").children) item.className = "done";
    $("stop").hidden = true;
    showVerdict(data);
    return true;
  }
  if (kind === "error") {
    showError(data.message);
    showVerdict({ status: "failed", errors: [data.message] });
    return true;
  }
  return false;
}

$("stop").addEventListener("click", () => { if (state.rendering) state.rendering.abort(); });

function showVerdict(result) {
  const box = $("verdict");
  box.hidden = false;
  box.className = "verdict";
  if (result.status === "stopped") {
    box.replaceChildren(el("p", { class: "headline" }, "Stopped. Nothing half-made was kept under a track's name."));
    return;
  }
  if (!result.qc) {
    box.classList.add("failed");
    box.replaceChildren(el("p", { class: "headline" }, `Not rendered: ${result.status}`),
                        ...(result.errors || []).map(e => el("p", { class: "small" }, e)));
    return;
  }
  const passed = result.qc === "passed";
  box.classList.add(passed ? "passed" : "failed");
  const f = result.figures;
  const what = { rendered: "Rendered", "up to date": "Already up to date", restored: "Restored from the cache", "failed qc": "Rendered" }[result.status] || result.status;
  const headline = `${what}${result.draft ? " with the draft voice" : ""}: quality checks ${result.qc}`;
  const rows = [
    ["Length", clock(result.duration_s)],
    [f.target_unit === "LUFS" ? "Integrated loudness" : "Level", `${minus(f.integrated.toFixed(1))} ${f.target_unit} (target ${minus(f.target)})`],
    ["True peak", `${minus(f.true_peak_dbtp.toFixed(1))} dBTP (ceiling ${minus(f.ceiling_dbtp)})`],
    ["Loudness range", `${f.range_lu.toFixed(1)} LU`],
    ["Speaking rate", `${Math.round(f.words_per_minute)} words a minute`],
    ["Profile", f.profile],
  ];
  const table = el("table", {}, ...rows.map(([k, v]) => el("tr", {}, el("td", {}, k), el("td", {}, v))));
  const failures = [...(result.failures || []), ...(result.qc_warnings || []).map(w => `${w} (warning)`)];
  const files = el("p", { class: "small" }, "Files: ", ...result.files.map(name => el("a", { href: `/out/${encodeURIComponent(name)}`, target: "_blank" }, name)).flatMap((a, i) => i ? [" ", a] : [a]));
  box.replaceChildren(el("p", { class: "headline" }, headline), table,
                      ...failures.map(line => el("p", { class: "small" }, line)), files);
}

// --- library ------------------------------------------------------------------------------------------

async function refreshLibrary() {
  try {
    const data = await api("GET", "/api/library");
    const body = $("tracks");
    if (!data.tracks.length) {
      body.replaceChildren(el("tr", {}, el("td", { colspan: 7, class: "muted" }, "No tracks yet: render a script.")));
    }
    else body.replaceChildren(...data.tracks.map(track => {
      const play = el("button", { type: "button", class: "play", "data-track": track.name, disabled: !track.play }, "Play");
      play.addEventListener("click", () => {
        const player = $("library-player");
        player.src = `/out/${encodeURIComponent(track.play)}`;
        player.play().catch(() => {});
        $("now-playing").textContent = track.title;
      });
      const links = track.files.map(name => el("a", { href: `/out/${encodeURIComponent(name)}`, target: "_blank" }, name.slice(track.name.length) || name));
      return el("tr", { "data-track": track.name },
        el("td", {}, el("strong", {}, track.title), el("br"), el("span", { class: "muted small" }, track.name)),
        el("td", {}, el("span", { class: `badge ${track.qc}` }, track.qc)),
        el("td", {}, track.duration_s ? clock(track.duration_s) : ""),
        el("td", {}, track.voice || "", track.draft ? el("span", { class: "badge draft" }, "draft") : null),
        el("td", {}, track.ambience || ""),
        el("td", {}, play),
        el("td", { class: "files" }, ...links));
    }));
    $("feed").replaceChildren(...(data.feed ? [el("a", { href: `/out/${data.feed}`, target: "_blank" }, "feed.xml"), " (the podcast feed)"] : []));
  } catch (error) { showError(error); }
}

// --- start ---------------------------------------------------------------------------------------------

async function start() {
  try {
    const st = await refreshScripts();
    $("folders").textContent = `scripts: ${st.folder} · tracks: ${st.out_dir}`;
    $("library-where").textContent = st.out_dir;
    form.voice.replaceChildren(...st.voices.map(v => el("option", { value: v, selected: v === "default" }, v)));
    form.ambience.append(...st.ambiences.map(a => el("option", { value: a }, a)));
    layout();
    await refreshLibrary();
    document.body.dataset.ready = "true";
  } catch (error) { showError(error); }
}

window.studio = { state, lint, layout, sectionAtCursor, save, refreshLibrary };
start();
