"""The report's HTML: one file, every picture inlined as a data: URL, nothing fetched, so it
opens offline and can be mailed. Every string that comes from the run (class names, paths, the
config text, the command) goes through html.escape."""
import base64
import datetime
import html

STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.9em}td,th{padding:.15em .8em .15em 0;text-align:left;vertical-align:top}
th{color:#555;font-weight:600}figure{margin:.6em 1.2em .6em 0;display:inline-block;vertical-align:top}
figcaption{color:#555;font-size:.85em}img{max-width:100%;border:1px solid #eee}
pre{background:#f6f6f6;padding:.8em;overflow:auto;font-size:.85em}.note{color:#777;font-size:.9em}
"""


def _e(value):
    return html.escape(str(value), quote=True)


def data_url(data, mime):
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _table(rows):
    return "<table>" + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows) + "</table>"


def _number(value):
    return f"{value:.6g}" if isinstance(value, float) else value


def render(summary, pictures, notes):
    """pictures: [(title, file name, bytes, mime)]; notes: lines shown under the pictures."""
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
    for note in notes:
        parts.append(f"<p class='note'>{_e(note)}</p>")
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
