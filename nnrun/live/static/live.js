// The live page: asks the server every second whether the run changed (a cheap question: the
// server compares file stamps) and redraws only when it did. No reload, nothing from the internet.
"use strict";

const POLL_MS = 1000, SITE_MS = 3000;
const state = {site: null, siteAt: 0, selected: null, view: null, overlay: new Set(), views: {}, cell: null};
const $ = id => document.getElementById(id);

const CURVES = [
  ["loss", "loss", [["train-loss", "train", true], ["loss", "selection", false]]],
  ["accuracy", "accuracy"], ["precision", "precision"], ["recall", "recall"], ["f-beta", null],
  ["average-precision", "average precision"], ["threshold", "decision threshold"],
  ["learning-rate", "learning rate"], ["samples-per-second", "training samples/s"],
];

async function getJSON(url) {
  const response = await fetch(url, {cache: "no-store"});
  if (!response.ok && response.status !== 404) throw new Error(`HTTP ${response.status}`);
  return response.json();
}

async function tick() {
  try {
    if (!state.site || Date.now() - state.siteAt > SITE_MS) await refreshSite();
    if (state.selected !== null) await refreshRun(state.selected, true);
    for (const id of state.overlay) if (id !== state.selected) await refreshRun(id, false);
    $("connection").textContent = "live";
    $("connection").classList.remove("lost");
  } catch (problem) {
    $("connection").textContent = "the server is not answering (training over?) \u2014 retrying";
    $("connection").classList.add("lost");
  }
  setTimeout(tick, POLL_MS);
}

async function refreshSite() {
  state.site = await getJSON("/api/site");
  state.siteAt = Date.now();
  const runs = state.site.runs || [];
  const wanted = decodeURIComponent((location.hash.match(/run=([^&]*)/) || [])[1] || "");
  if (state.selected === null) {  // a selected run that vanished stays selected: its view says "gone"
    const pick = runs.find(r => r.id === wanted) || newest(runs);
    state.selected = pick ? pick.id : null;
    if (pick) state.overlay.add(pick.id);
  }
  renderRuns();
  if (!runs.length) renderNotice(state.site.message || "no runs here");
}

async function refreshRun(id, selected) {
  const known = state.views[id];
  const url = `/api/run?run=${encodeURIComponent(id)}` + (known ? `&since=${known.signature}` : "");
  const view = await getJSON(url);
  if (view.error) {
    delete state.views[id];
    if (selected) renderNotice(`there is no run "${id}" here`);
    return;
  }
  if (view.unchanged) return;
  state.views[id] = view;
  // Mid-epoch only status.json moves: redraw the header, not the matrices and curves.
  const epochsChanged = !known || known.content !== view.content;
  if (selected) {
    state.view = view;
    if (epochsChanged || state.rendered !== id) renderRun(view);
    else renderStatus(view);
  } else if (epochsChanged) renderCurves();
}

// The run started last (run.json's start, else its folder's age): what `nnrun watch runs/` opens.
// The list is in path order, where runs/fraud/... comes after the newer runs/catsdogs/...
function newest(runs) {
  let pick = null;
  for (const run of runs) {
    const started = typeof run.started === "number" ? run.started : -Infinity;
    if (pick === null || started >= pick.started) pick = {run, started};
  }
  return pick ? pick.run : null;
}

// A run's path that wraps after a "/" rather than push the status, epochs and best columns out of
// the panel: each folder name is kept whole (a time stamp split at its dashes is hard to read),
// unless it is so long that only breaking it inside fits.
const WHOLE = 22;
function breakable(path) {
  const parts = String(path).split("/");
  return parts.flatMap((part, k) => {
    const text = k < parts.length - 1 ? part + "/" : part;
    return [text.length <= WHOLE ? el("span", {class: "whole", text}) : text, el("wbr", {})];
  });
}

// ---- the list of runs (a folder of runs)
function renderRuns() {
  const folder = state.site.mode === "folder";
  show($("runs-panel"), folder);
  if (!folder) return;
  const body = clear($("runs").tBodies[0]);
  (state.site.runs || []).forEach((run, k) => {
    const tick = el("input", {type: "checkbox", title: "overlay its curves", checked: state.overlay.has(run.id)});
    tick.addEventListener("change", () => {
      tick.checked ? state.overlay.add(run.id) : state.overlay.delete(run.id);
      renderCurves();
    });
    const link = el("a", {href: "#run=" + encodeURIComponent(run.id), title: run.id}, ...breakable(run.id));
    link.addEventListener("click", () => select(run.id));
    const best = run.best_value === null || run.best_value === undefined ? "–"
      : `${run.metric_label} ${fmt(run.best_value)} @${run.best_epoch}`;
    const colour = el("span", {class: "swatch"});
    colour.style.background = PALETTE[k % PALETTE.length];
    body.append(el("tr", {class: run.id === state.selected ? "selected" : null},
      el("td", {}, tick, colour), el("td", {class: "name"}, link),
      el("td", {}, el("span", {class: `badge state-${run.state}`, text: run.state})),
      el("td", {class: "num", text: run.epoch_count ? `${run.epochs}/${run.epoch_count}` : run.epochs}),
      el("td", {class: "num", text: best})));
  });
}

function select(id) {
  state.selected = id;
  state.overlay.add(id);
  state.cell = null;
  show($("examples"), false);
  const view = state.views[id];
  if (view) { state.view = view; renderRun(view); }
  renderRuns();
}

// ---- one run
function renderRun(view) {
  state.rendered = view.id;
  const shown = view.id === "." ? view.name : view.id;  // in a folder of runs, its path there
  $("run-name").textContent = shown;
  document.title = `${shown} \u2014 nnrun live`;
  renderStatus(view);
  renderWarnings(view.warnings || []);
  // what the run's state asks of a person (gone, empty, stopped: the command that goes on), else
  // for a run before its first epoch, that the page waits for it
  const note = view.message || (view.waiting ? "waiting for the first epoch \u2014 the page fills in when it ends" : null);
  if (note) renderNotice(note);
  else show($("notice"), false);
  renderMatrices(view);
  renderCurves();
  renderFacts(view);
  if (state.cell) openCell(state.cell.which, state.cell.actual, state.cell.predicted);
}

function renderStatus(view) {
  const badge = $("state");
  badge.textContent = view.state;
  badge.className = `badge state-${view.state}`;
  show(badge, true);
  renderHeader(view);
}

function renderHeader(view) {
  const parts = [];
  if (view.epochs) parts.push(`epoch ${view.epoch}` + (view.epoch_count ? ` of ${view.epoch_count}` : ""));
  if (view.best_epoch) parts.push(`best ${view.metric_label} ${fmt(view.best_value)} at epoch ${view.best_epoch}`);
  $("epoch-line").textContent = parts.join(" \u00b7 ");
  const progress = view.in_progress;
  show($("progress"), !!progress);
  if (progress) {
    const share = progress.of ? Math.min(1, progress.samples / progress.of) : 0;
    $("progress-fill").style.width = `${(100 * share).toFixed(1)}%`;
    $("progress-text").textContent = `epoch ${progress.epoch}: ${fmt(progress.samples)}` +
      (progress.of ? ` / ${fmt(progress.of)}` : "") + ` samples \u00b7 ${fmt(progress["samples-per-second"], 0)} samples/s`;
  }
}

function renderNotice(text) {
  $("notice").textContent = text;
  show($("notice"), true);
}

function renderWarnings(warnings) {
  const list = clear($("warnings"));
  for (const warning of warnings) list.append(el("li", {text: "warning: " + warning}));
  show(list, warnings.length > 0);
}

function renderMatrices(view) {
  const has = r => r && Array.isArray(r["confusion-matrix"]);
  show($("matrices"), has(view.current));
  if (!has(view.current)) return;
  drawMatrix("card-last", "last", `Latest: epoch ${view.current.epoch}`, view.current, view);
  drawMatrix("card-best", "best", has(view.best) ? `Best: epoch ${view.best.epoch}` : "Best: none yet", view.best, view);
}

function drawMatrix(cardId, which, title, record, view) {
  const card = $(cardId);
  card.querySelector("h2").textContent = title;
  const box = clear(card.querySelector(".matrix-box"));
  if (!record || !record["confusion-matrix"]) { card.querySelector(".sub").textContent = ""; return; }
  const bits = [`${record.split} split`, `${fmt(record.count)} examples`, `loss ${fmt(record.loss)}`];
  if (record["f-beta"] !== undefined && record["f-beta"] !== null)
    bits.push(`F${+(record.beta === undefined || record.beta === null ? 1 : record.beta)} ${fmt(record["f-beta"])}` +
              (record.threshold !== null && record.threshold !== undefined ? ` @ threshold ${fmt(record.threshold)}` : ""));
  card.querySelector(".sub").textContent = bits.join(" \u00b7 ");
  const clickable = view.predictions && view.predictions[which];
  // A heat map of many classes takes the whole width, and is sized to it (redrawn on resize).
  card.classList.toggle("full", record["confusion-matrix"].length > DENSE);
  const onCell = clickable ? (a, p) => openCell(which, a, p) : null;
  const table = matrixTable(record["confusion-matrix"], view.classes, onCell);
  box.append(table);
  fitMatrix(table, box.clientWidth);
  if (!clickable) box.append(el("p", {class: "hint", text: "no stored predictions in this run: cells list no examples"}));
  if (state.cell && state.cell.which === which) {
    const td = box.querySelector(`td[data-actual="${state.cell.actual}"][data-predicted="${state.cell.predicted}"]`);
    if (td) td.classList.add("chosen");
  }
}

// ---- curves: one run, or the ticked runs overlaid
function renderCurves() {
  const view = state.view;
  const box = clear($("curves"));
  const legend = clear($("curves-legend"));
  const runs = state.site && state.site.mode === "folder"
    ? [...state.overlay].filter(id => state.views[id] && state.views[id].series) : (view ? [view.id] : []);
  show($("curves-section"), runs.length > 0 && runs.some(id => state.views[id].epochs));
  const many = runs.length > 1;
  const colourOf = id => PALETTE[(state.site.runs || []).findIndex(r => r.id === id) % PALETTE.length] || PALETTE[0];
  if (many) runs.forEach(id => legend.append(el("span", {class: "key"}, swatch(colourOf(id)), id)));
  for (const [key, title, parts] of CURVES) {
    const beta = view && view.current && view.current.beta !== undefined ? view.current.beta : 1;
    const label = title || `F${+beta}`;
    const lines = [], marks = [];
    for (const id of runs) {
      const v = state.views[id];
      const colour = many ? colourOf(id) : PALETTE[0];
      const pieces = parts || [[key, label, false]];
      pieces.forEach(([k, part, dashed], p) => {
        if (!v.series[k] || v.series[k].every(y => y === null)) return;
        lines.push({label: many ? `${id} ${part}` : part, xs: v.series.epoch, ys: v.series[k], dashed,
                    colour: many ? colour : (parts ? PALETTE[p] : colour), best: v.best_epoch});
      });
      marks.push({x: v.best_epoch, colour: many ? colour : "#2b8a3e"});
    }
    if (!lines.length) continue;
    const chart = lineChart(label, lines, marks, key === "learning-rate" && spansDecades(lines));
    if (parts && !many) chart.append(el("div", {class: "chart-key"},
      ...lines.map(line => el("span", {class: "key"}, swatch(line.colour, line.dashed), line.label))));
    else if (parts) chart.append(el("div", {class: "chart-key"},  // overlaid: colour is the run, the stroke the part
      ...parts.map(([, part, dashed]) => el("span", {class: "key"}, swatch("#66788a", dashed), part))));
    box.append(chart);
  }
}

// Rates that span more than a decade (warm-up, decay, restarts) read on a log axis, as in the
// report; a constant or gently changing rate stays linear.
function spansDecades(lines) {
  const values = lines.flatMap(line => line.ys).filter(y => y !== null);
  return values.length > 0 && values.every(y => y > 0) && Math.max(...values) > 10 * Math.min(...values);
}

function swatch(colour, dashed) {
  const node = el("span", {class: "swatch" + (dashed ? " dashed" : "")});
  node.style.background = dashed ? `repeating-linear-gradient(90deg, ${colour} 0 4px, transparent 4px 6px)` : colour;
  return node;
}

// ---- facts and config
function renderFacts(view) {
  show($("facts"), true);
  const list = clear($("run-facts"));
  const facts = flatten(view.run_info || {}, "");
  if (view.test) for (const [k, v] of Object.entries(view.test)) facts.push([`test.${k}`, v]);
  for (const [key, value] of facts) {
    list.append(el("dt", {text: key}), el("dd", {text: typeof value === "number" ? fmt(value, 6) : String(value)}));
  }
  if (view.files && view.files.length) {  // the run's own files, as the server has them
    const base = view.id === "." ? "/files/" : "/files/" + view.id.split("/").map(encodeURIComponent).join("/") + "/";
    const links = el("dd", {class: "files"});
    for (const file of view.files) links.append(el("a", {href: base + encodeURIComponent(file), text: file}), " ");
    list.append(el("dt", {text: "files"}), links);
  }
  $("config").textContent = view.config || "(no config.yaml)";
}

function flatten(value, prefix) {
  const out = [];
  for (const [key, v] of Object.entries(value)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (v && typeof v === "object" && !Array.isArray(v)) out.push(...flatten(v, path));
    else if (Array.isArray(v)) out.push([path, v.map(x => typeof x === "object" ? JSON.stringify(x) : x).join("; ")]);
    else if (v !== null && v !== undefined) out.push([path, v]);
  }
  return out;
}

let resizing = null;
window.addEventListener("resize", () => {  // only a heat map's squares depend on the page's width
  clearTimeout(resizing);
  resizing = setTimeout(() => {
    if (state.view && (state.view.classes || []).length > DENSE) renderMatrices(state.view);
  }, 150);
});
window.addEventListener("hashchange", () => {  // a link to #run=ID, or the back button
  const id = decodeURIComponent((location.hash.match(/run=([^&]*)/) || [])[1] || "");
  if (id && id !== state.selected) { select(id); refreshRun(id, true).catch(() => {}); }
});
$("examples-close").addEventListener("click", () => {
  state.cell = null;
  show($("examples"), false);
  document.querySelectorAll("td.chosen").forEach(td => td.classList.remove("chosen"));
});
tick();
