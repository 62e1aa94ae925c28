// The confusion matrix as Cortex drew it: rows actual, columns predicted, a per-class recall
// column, a per-class precision row, accuracy in the corner; each cell coloured by its share of
// the row (green on the diagonal, red off it), so a weak class stands out whatever its size.
"use strict";

function matrixTable(matrix, classes, onCell) {
  const n = matrix.length;
  const rowSums = matrix.map(row => row.reduce((a, b) => a + b, 0));
  const colSums = classes.map((_, j) => matrix.reduce((a, row) => a + row[j], 0));
  const total = rowSums.reduce((a, b) => a + b, 0);
  const correct = matrix.reduce((a, row, i) => a + row[i], 0);
  // Many classes: columns are headed by the class's number (its name in the tooltip and in the
  // row heading), empty cells stay blank and ratios get two decimals, so N x N stays readable.
  const compact = n > 8;
  const digits = compact ? 2 : 4;
  const table = el("table", {class: "matrix" + (compact ? " compact" : "") + (n > 20 ? " tiny" : "")});

  const head = el("tr", {}, el("th", {class: "corner", text: "actual \u2193 predicted \u2192"}));
  classes.forEach((label, j) => head.append(el("th", {class: "col", title: label, text: compact ? j : label})));
  head.append(el("th", {class: "stat", text: "recall"}));
  table.append(el("thead", {}, head));

  const body = el("tbody");
  matrix.forEach((row, i) => {
    const tr = el("tr", {}, el("th", {class: "row", title: name(classes, i),
                                      text: compact ? `${i} ${name(classes, i)}` : name(classes, i)}));
    row.forEach((count, j) => {
      const share = rowSums[i] ? count / rowSums[i] : 0;
      const td = el("td", {
        class: "cell" + (i === j ? " hit" : " miss") + (count && onCell ? " clickable" : ""),
        title: `actual ${name(classes, i)}, predicted ${name(classes, j)}: ${fmt(count)} ` +
               `(${(100 * share).toFixed(1)}% of the row)` + (count && onCell ? " \u2014 click for examples" : ""),
        "data-actual": i, "data-predicted": j, text: compact && !count ? "" : fmt(count),
      });
      td.style.background = cellColour(i === j, share);
      if (share > 0.55) td.classList.add("dark");
      if (count && onCell) td.addEventListener("click", () => onCell(i, j, td));
      tr.append(td);
    });
    tr.append(el("td", {class: "stat", text: ratio(row[i], rowSums[i], digits)}));
    body.append(tr);
  });
  const foot = el("tr", {class: "precision"}, el("th", {class: "row", text: "precision"}));
  classes.forEach((_, j) => foot.append(el("td", {class: "stat", text: ratio(matrix[j][j], colSums[j], digits)})));
  foot.append(el("td", {class: "stat accuracy", title: "accuracy", text: ratio(correct, total, digits)}));
  body.append(foot);
  table.append(body);
  return table;
}

function name(classes, i) {
  return classes[i] === undefined ? String(i) : classes[i];
}

function ratio(a, b, digits) {
  return b ? (a / b).toFixed(digits) : "\u2013";
}

function cellColour(diagonal, share) {
  if (share <= 0) return "transparent";
  const alpha = 0.08 + 0.82 * share;
  return diagonal ? `rgba(34, 139, 84, ${alpha})` : `rgba(214, 69, 51, ${alpha})`;
}
