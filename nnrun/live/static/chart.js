// A small line chart in inline SVG: one or more series over epochs, the best epoch marked with a
// dashed line. Values that JSON could not hold (NaN) arrive as null and leave a gap.
"use strict";

const PALETTE = ["#2563eb", "#d9480f", "#2b8a3e", "#9c36b5", "#c92a2a", "#0b7285", "#e67700", "#5f3dc4"];

// lines: [{label, colour, xs, ys, dashed}]; marks: [{x, colour}]; log: a logarithmic y axis (every
// value positive), for values spanning decades such as a decaying learning rate
function lineChart(title, lines, marks, log) {
  const W = 300, H = 170, L = 46, R = 10, T = 24, B = 24;
  const at = log ? Math.log10 : (y => y);  // where a value sits on the y axis
  const points = lines.flatMap(line => line.xs.map((x, k) => [x, line.ys[k]]).filter(p => p[1] !== null))
    .map(([x, y]) => [x, at(y)]);
  const box = el("div", {class: "chart"});
  const root = svg("svg", {viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title + (log ? " (log scale)" : ""),
                           "data-scale": log ? "log" : "linear"});
  root.append(svg("text", {x: L, y: 15, class: "chart-title", text: title},
                  log ? svg("tspan", {class: "chart-scale", text: "  log scale"}) : null));
  box.append(root);
  if (!points.length) {
    root.append(svg("text", {x: W / 2, y: H / 2, class: "chart-empty", "text-anchor": "middle", text: "no values"}));
    return box;
  }
  let [x0, x1] = extent(points.map(p => p[0]));
  let [y0, y1] = extent(points.map(p => p[1]));
  if (x0 === x1) { x0 -= 1; x1 += 1; }
  if (y0 === y1) { const pad = Math.abs(y0) * 0.1 || 1; y0 -= pad; y1 += pad; }
  const px = x => L + (x - x0) / (x1 - x0) * (W - L - R);
  const py = y => H - B - (at(y) - y0) / (y1 - y0) * (H - T - B);  // y: a value, placed by the scale

  const yStep = niceStep((y1 - y0) / 4);
  for (const [tick, text] of log ? logTicks(y0, y1) : ticks(y0, y1, 4).map(t => [t, short(t, yStep)])) {
    root.append(svg("line", {x1: L, x2: W - R, y1: py(tick), y2: py(tick), class: "grid"}));
    root.append(svg("text", {x: L - 4, y: py(tick) + 3, class: "tick", "text-anchor": "end", text}));
  }
  for (const tick of ticks(x0, x1, 5).filter(t => Number.isInteger(t))) {
    root.append(svg("text", {x: px(tick), y: H - 8, class: "tick", "text-anchor": "middle", text: String(tick)}));
  }
  for (const mark of marks || []) {
    if (mark.x === null || mark.x === undefined) continue;
    root.append(svg("line", {x1: px(mark.x), x2: px(mark.x), y1: T - 4, y2: H - B, class: "best-mark",
                             stroke: mark.colour || "#2b8a3e"},
                    svg("title", {text: `best epoch ${mark.x}`})));
  }
  for (const line of lines) {
    let d = "", pen = false;
    line.xs.forEach((x, k) => {
      const y = line.ys[k];
      if (y === null) { pen = false; return; }
      d += `${pen ? "L" : "M"}${px(x).toFixed(1)},${py(y).toFixed(1)}`;
      pen = true;
    });
    root.append(svg("path", {d, class: "series" + (line.dashed ? " dashed" : ""), stroke: line.colour}));
    line.xs.forEach((x, k) => {
      const y = line.ys[k];
      if (y === null || line.xs.length > 60) return;  // dots only while they stay readable
      root.append(svg("circle", {cx: px(x), cy: py(y), r: line.best === x ? 3.6 : 2, fill: line.colour,
                                 class: line.best === x ? "best-dot" : null},
                      svg("title", {text: `${line.label}: epoch ${x}: ${fmt(y, 5)}`})));
    });
  }
  return box;
}

// [value, label] ticks of a log axis from 10^lo to 10^hi: each power of ten, and 2 and 5 times
// it when fewer than three powers fall in the range.
function logTicks(lo, hi) {
  const inside = v => Math.log10(v) >= lo - 1e-9 && Math.log10(v) <= hi + 1e-9;
  const decades = [];
  for (let d = Math.floor(lo); d <= Math.ceil(hi); d++) decades.push(d);
  let values = decades.map(d => Math.pow(10, d)).filter(inside);
  if (values.length < 3) values = decades.flatMap(d => [1, 2, 5].map(m => m * Math.pow(10, d))).filter(inside);
  return values.map(v => [v, powerLabel(v)]);
}

function powerLabel(value) {
  const exponent = Math.floor(Math.log10(value) + 1e-9);
  if (exponent >= -3 && exponent <= 3) return String(+value.toPrecision(3));
  return `${+(value / Math.pow(10, exponent)).toPrecision(3)}e${exponent}`;
}

function extent(values) {
  return [Math.min(...values), Math.max(...values)];
}

function ticks(lo, hi, count) {
  const step = niceStep((hi - lo) / count);
  const out = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(+t.toPrecision(12));
  return out;
}

function niceStep(raw) {
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  const unit = raw / power;
  return power * (unit <= 1 ? 1 : unit <= 2 ? 2 : unit <= 5 ? 5 : 10);
}

// A tick's label, with as many digits as the ticks' spacing needs: neighbouring ticks never read
// the same (a threshold moving between 0.009902 and 0.009916 is labelled 0.009905, 0.00991, ...).
function short(value, step) {
  const a = Math.abs(value);
  const places = p => Math.max(0, -Math.floor(Math.log10(p) + 1e-9));
  if (a === 0) return "0";
  if (a >= 10000) return String(+(value / 1000).toFixed(places(step / 1000))) + "k";
  if (a < 0.001) return value.toExponential(Math.max(1, Math.floor(Math.log10(a)) - Math.floor(Math.log10(step))));
  return String(+value.toFixed(places(step)));
}
