// A confusion-matrix cell's examples, most confident first: thumbnails for images (PNGs the
// server draws from the prepared dataset), rows of raw values (or feature values) for tables.
"use strict";

async function openCell(which, actual, predicted) {
  state.cell = {which, actual, predicted};
  document.querySelectorAll("td.chosen").forEach(td => td.classList.remove("chosen"));
  const card = $(which === "last" ? "card-last" : "card-best");
  const td = card.querySelector(`td[data-actual="${actual}"][data-predicted="${predicted}"]`);
  if (td) td.classList.add("chosen");
  const id = state.selected;
  const result = await getJSON(`/api/examples?run=${encodeURIComponent(id)}&which=${which}` +
                               `&actual=${actual}&predicted=${predicted}`);
  if (state.selected !== id) return;
  const classes = state.view.classes;
  show($("examples"), true);
  $("examples-title").textContent = `actual ${name(classes, actual)}, predicted ${name(classes, predicted)}`;
  const body = clear($("examples-body"));
  if (result.error) { $("examples-note").textContent = result.error; return; }
  $("examples-note").textContent =
    `${fmt(result.total)} example${result.total === 1 ? "" : "s"} of the ${result.split} split at epoch ${result.epoch}` +
    ` (${which === "last" ? "latest" : "best"}), most confident first` +
    (result.total > result.examples.length ? `; the first ${result.examples.length} shown` : "") +
    (result.note ? `. ${result.note}` : "");
  if (result.kind === "images") body.append(thumbs(result, classes));
  else body.append(rows(result));
}

function thumbs(result, classes) {
  const grid = el("div", {class: "thumbs"});
  for (const item of result.examples) {
    grid.append(el("figure", {title: `${item.id} (index ${item.index})`},
      el("img", {src: item.thumb, alt: item.id, loading: "lazy"}),
      el("figcaption", {}, el("span", {class: "prob", text: `P ${item.probability.toFixed(3)}`}),
                            el("span", {class: "id", text: item.id}))));
  }
  return grid;
}

function rows(result) {
  // A table with an encoding: the raw values (words, blanks, dates) under the raw column names;
  // a table prepared before encodings were stored: its feature values, which are its raw numbers.
  const decoded = Array.isArray(result.columns);
  const columns = (decoded ? result.columns : result.features) || [];
  const numeric = decoded ? (result.numeric || []) : columns.map(() => true);
  const head = el("tr", {}, el("th", {class: "word", text: "id"}), el("th", {class: "num", text: "P(predicted)"}),
                  ...columns.map((c, j) => el("th", {class: numeric[j] ? "num" : "word", title: c, text: c})));
  const table = el("table", {class: "rows"}, el("thead", {}, head));
  const body = el("tbody");
  for (const item of result.examples) {
    const values = (decoded ? item.values : item.features) || [];
    body.append(el("tr", {}, el("td", {class: "word", title: item.id, text: item.id}),
                   el("td", {class: "num", text: item.probability.toFixed(4)}),
                   ...values.map((v, j) => cell(v, numeric[j], decoded))));
  }
  table.append(body);
  return el("div", {class: "rows-box"}, table);
}

function cell(value, numeric, decoded) {
  if (!decoded) return el("td", {class: "num", text: fmt(value, 3)});
  // "" is a cell that was blank in the file: a dash, so an empty cell is not taken for a gap
  if (value === "") return el("td", {class: `blank ${numeric ? "num" : "word"}`, title: "missing", text: "–"});
  // words are cut to the column's width by the style sheet; the title holds the whole value
  return numeric ? el("td", {class: "num", text: value}) : el("td", {class: "word", title: value, text: value});
}
