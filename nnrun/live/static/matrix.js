// The confusion matrix as Cortex drew it: rows actual, columns predicted, a per-class recall
// column, a per-class precision row, accuracy in the corner; each cell coloured by its share of
// the row (green on the diagonal, red off it), so a weak class stands out whatever its size.
"use strict";

// Up to COMPACT classes the columns carry the class names; up to DENSE their numbers; beyond,
// the matrix is a heat map of small squares sized to fit the page (counts in each cell's
// tooltip), so even a hundred classes show whole, N x N, without scrolling sideways.
const COMPACT = 8, DENSE = 20, DENSE_CELL = [4, 16], SMALL_CELL = 8;

function matrixTable(matrix, classes, onCell) {
  const n = matrix.length;
  const rowSums = matrix.map(row => row.reduce((a, b) => a + b, 0));
  const colSums = classes.map((_, j) => matrix.reduce((a, row) => a + row[j], 0));
  const total = rowSums.reduce((a, b) => a + b, 0);
  const correct = matrix.reduce((a, row, i) => a + row[i], 0);
  const compact = n > COMPACT, dense = n > DENSE;
  const digits = compact ? 2 : 4;
  const table = el("table", {class: "matrix" + (compact ? " compact" : "") + (dense ? " dense small" : "")});
  if (dense) table.style.setProperty("--cell", `${DENSE_CELL[0]}px`);  // fitMatrix sizes it once shown

  const head = el("tr", {}, el("th", {class: "corner", text: "actual \u2193 predicted \u2192"}));
  // A heat map's column numbers float above their columns (every fifth), so they widen none.
  classes.forEach((label, j) => head.append(
    el("th", {class: "col", title: `${j} ${label}`, text: dense ? null : compact ? j : label},
       dense && j % 5 === 0 ? el("span", {text: j}) : null)));
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
        "data-actual": i, "data-predicted": j, text: dense || (compact && !count) ? "" : fmt(count),
      });
      td.style.background = cellColour(i === j, share);
      if (share > 0.55) td.classList.add("dark");
      if (count && onCell) td.addEventListener("click", () => onCell(i, j, td));
      tr.append(td);
    });
    tr.append(el("td", {class: "stat", title: `recall of ${name(classes, i)}`, text: ratio(row[i], rowSums[i], digits)}));
    body.append(tr);
  });
  const foot = el("tr", {class: "precision"}, el("th", {class: "row", text: "precision"}));
  classes.forEach((_, j) => {
    const value = ratio(matrix[j][j], colSums[j], digits);
    const td = el("td", {class: "stat", title: `precision of ${name(classes, j)}: ${value}`, text: value});
    if (dense && colSums[j]) td.style.setProperty("--shade", (matrix[j][j] / colSums[j]).toFixed(3));
    foot.append(td);
  });
  foot.append(el("td", {class: "stat accuracy", title: "accuracy", text: ratio(correct, total, digits)}));
  body.append(foot);
  table.append(body);
  return table;
}

// Once the table is on the page: its squares take the width that the row names and the recall
// column leave of `width`. Squares too small for text show the precision row as shades. Twice,
// since the row names' type grows with the squares.
function fitMatrix(table, width) {
  if (!table.classList.contains("dense")) return;
  const n = table.tBodies[0].rows.length - 1;
  for (let pass = 0; pass < 2; pass++) {
    const cell = parseFloat(table.style.getPropertyValue("--cell"));
    const rest = table.offsetWidth - n * (cell + 1);  // the border spacing is 1px
    const size = Math.max(DENSE_CELL[0], Math.min(DENSE_CELL[1], Math.floor((width - rest) / n) - 1));
    table.style.setProperty("--cell", `${size}px`);
    table.classList.toggle("small", size < SMALL_CELL);
  }
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
