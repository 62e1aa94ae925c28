"""The report's HTML: one file, every picture inlined as a data: URL, nothing fetched, so it
opens offline and can be mailed. Every string that comes from the run (class names, paths, the
config text, the command) goes through html.escape."""
import base64
import datetime
import html

from nnrun.report.mistakes import PER_CLASS

STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.9em}td,th{padding:.15em .8em .15em 0;text-align:left;vertical-align:top}
th{color:#555;font-weight:600}figure{margin:.6em 1.2em .6em 0;display:inline-block;vertical-align:top}
figcaption{color:#555;font-size:.85em}img{max-width:100%;border:1px solid #eee}
pre{background:#f6f6f6;padding:.8em;overflow:auto;font-size:.85em}.note{color:#777;font-size:.9em}.note.warning{color:#a33}
.rows-box{overflow-x:auto;max-width:100%}table.rows{font-variant-numeric:tabular-nums}
table.rows td,table.rows th{white-space:nowrap;border-bottom:1px solid #eee;padding:.2em .6em}
table.rows th{background:#f3f5f8}table.rows tbody+tbody{border-top:2px solid #bbb}
table.rows .num{text-align:right}table.rows .word{max-width:16em;overflow:hidden;text-overflow:ellipsis}
table.rows .blank{color:#999}
"""


def _e(value):
    return html.escape(str(value), quote=True)


def data_url(data, mime):
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _table(rows):
    return "<table>" + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows) + "</table>"


def _number(value):
    return f"{value:.6g}" if isinstance(value, float) else value


def _word(text):
    """A word of a table row: left-aligned, cut by the style sheet to its column's width, the whole
    of it in the title."""
    return f"<td class='word' title='{_e(text)}'>{_e(text)}</td>"


def _cell(value, numeric, decoded):
    """One value of a table row: a number right-aligned, a word as _word, a blank a dash."""
    if not decoded:
        return f"<td class='num'>{_e(f'{value:.6g}')}</td>"
    if value == "":  # blank in the file: a dash, so an empty cell is not taken for a gap
        return f"<td class='blank {'num' if numeric else 'word'}' title='missing'>–</td>"
    return f"<td class='num'>{_e(value)}</td>" if numeric else _word(value)


def _head(name, numeric):
    return f"<th class='{'num' if numeric else 'word'}' title='{_e(name)}'>{_e(name)}</th>"


def mistakes_table(rows):
    """mistakes.MistakeRows as an HTML table, one group of rows (a tbody) per actual class."""
    head = [("id", False), ("actual", False), ("predicted", False), ("probability", True)]
    parts = ["<div class='rows-box'><table class='rows'><thead><tr>",
             *(_head(name, numeric) for name, numeric in head + list(zip(rows.columns, rows.numeric))),
             "</tr></thead>"]
    actual = None
    for id_, k, predicted, probability, values in rows.rows:
        if k != actual:
            parts.append("<tbody>" if actual is None else "</tbody><tbody>")
            actual = k
        cells = [_word(id_), _word(k), _word(predicted), f"<td class='num'>{probability:.3f}</td>"]
        cells += [_cell(v, n, rows.decoded) for v, n in zip(values, rows.numeric)]
        parts.append("<tr>" + "".join(cells) + "</tr>")
    parts.append("</tbody></table></div>")
    return "".join(parts)


def _mistakes_section(rows, best):
    values = ("the values as they were in the file (a dash: a blank cell)" if rows.decoded
              else "the feature values")
    return (f"<h2>most confident mistakes</h2><p class='note'>the examples of the "
            f"{_e(best.get('split', 'selection'))} split that epoch {_e(best.get('epoch', '-'))} got wrong "
            f"with the highest probability for the class it chose, most confident first, at most {PER_CLASS} "
            f"per actual class; {values}</p>" + mistakes_table(rows))


def render(summary, pictures, notes, mistake_rows=None):
    """pictures: [(title, file name, bytes, mime)]; notes: lines shown under the pictures;
    mistake_rows: a table run's most confident mistakes (mistakes.MistakeRows), or None."""
    info, status, best = summary.info, summary.status, summary.best or {}
    facts = [("run folder", summary.path), ("started", info.get("started", "-")),
             ("status", status.get("state", "-")), ("epochs", summary.epochs),
             ("best epoch", best.get("epoch", "-")), ("selected by", summary.metric),
             ("device", f"{info.get('device', '-')} {info.get('device-name', '')}".strip()),
             ("dataset", (info.get("dataset") or {}).get("path", "-")),
             ("nnrun / torch", f"{info.get('nnrun-version', '-')} / {info.get('torch', '-')}"),
             ("command", info.get("command") or "-")]
    shown = [(k, _number(v)) for k, v in best.items()
             if isinstance(v, (int, float, str)) and not isinstance(v, bool) and k not in ("best",)]
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
             f"<title>nnrun report: {_e(summary.path.name)}</title><style>{STYLE}</style></head><body>",
             f"<h1>nnrun report: {_e(summary.path.name)}</h1>",
             f"<p class='note'>written {_e(datetime.datetime.now().strftime('%Y-%m-%d %H:%M'))}</p>",
             _table(facts)]
    parts.append("<h2>pictures</h2><div class='pictures'>")
    for title, name, data, mime in pictures:
        parts.append(f"<figure><figcaption><b>{_e(title)}</b></figcaption>"
                     f"<img src=\"{data_url(data, mime)}\" alt=\"{_e(title)}\"><figcaption>{_e(name)}</figcaption></figure>")
    parts.append("</div>")
    if mistake_rows is not None:
        parts.append(_mistakes_section(mistake_rows, best))
    for note in notes:
        parts.append(f"<p class='note'>{_e(note)}</p>")
    for warning in summary.warnings:  # files damaged by hand: what was left out, and why
        parts.append(f"<p class='note warning'>warning: {_e(warning)}</p>")
    if shown:
        parts.append("<h2>best epoch</h2>" + _table(shown))
    if summary.test:
        parts.append("<h2>test</h2>" + _table([(k, _number(v)) for k, v in summary.test.items()
                                               if isinstance(v, (int, float, str)) and not isinstance(v, bool)]))
    config = (summary.path / "config.yaml")
    if config.is_file():
        parts.append(f"<h2>config</h2><pre>{_e(config.read_text(errors='replace'))}</pre>")
    parts.append("</body></html>\n")
    return "\n".join(parts)
