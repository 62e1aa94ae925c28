"""Writing predictions as they come (JSON lines, CSV or an aligned table), and output files
that appear whole or not at all.

A writer takes one batch at a time and writes it straight out, so a million rows never sit in
memory. Every record carries the input's name; a classifier adds its probability map (every
class in class order, or the --top-k most probable, most probable first) and its class, an
autoencoder its reconstruction error, and a labelled input its true label.
"""
import csv
import json
import sys

FORMATS = ("jsonl", "csv", "table")


def number(value):
    """A probability or error for the output: 6 significant digits, as a plain float."""
    return float(f"{value:.6g}")


class Results:
    """One batch's results: names, and whichever of the rest apply."""

    def __init__(self, names, p=None, chosen=None, top=None, labels=None, errors=None):
        self.names, self.p, self.chosen, self.top, self.labels, self.errors = names, p, chosen, top, labels, errors


class JsonLinesWriter:
    def __init__(self, stream, classes):
        self.stream, self.classes = stream, classes

    def write(self, r):
        lines = []
        for i, name in enumerate(r.names):
            record = {"input": name}
            if r.p is not None:
                order = r.top[i] if r.top is not None else range(len(self.classes))
                record["probability-map"] = {self.classes[j]: number(r.p[i, j]) for j in order}
                record["classification"] = self.classes[r.chosen[i]]
            if r.errors is not None:
                record["reconstruction-error"] = number(r.errors[i])
            if r.labels is not None:
                record["label"] = r.labels[i]
            lines.append(json.dumps(record, ensure_ascii=False))
        self.stream.write("\n".join(lines) + "\n")


class CsvWriter:
    def __init__(self, stream, classes, top_k=None, labelled=False, classifier=True, autoencoder=False):
        self.classes, self.top_k = classes, top_k
        self.out = csv.writer(stream, lineterminator="\n")
        header = ["input"] + (["label"] if labelled else [])
        if classifier:
            header.append("classification")
            if top_k:
                for k in range(1, top_k + 1):
                    header += [f"top{k}", f"p{k}"]
            else:
                header += [f"p({c})" for c in classes]
        if autoencoder:
            header.append("reconstruction-error")
        self.labelled = labelled
        self.out.writerow(header)

    def write(self, r):
        rows = []
        for i, name in enumerate(r.names):
            row = [name] + ([r.labels[i] if r.labels is not None else ""] if self.labelled else [])
            if r.p is not None:
                row.append(self.classes[r.chosen[i]])
                if r.top is not None:
                    for j in r.top[i]:
                        row += [self.classes[j], number(r.p[i, j])]
                else:
                    row += [number(v) for v in r.p[i]]
            if r.errors is not None:
                row.append(number(r.errors[i]))
            rows.append(row)
        self.out.writerows(rows)


class TableWriter:
    """Aligned columns for reading in a terminal; widths come from the first batch."""

    def __init__(self, stream, classes, top_k=None, labelled=False, classifier=True, autoencoder=False):
        self.stream, self.classes, self.top_k = stream, classes, top_k
        self.labelled, self.classifier, self.autoencoder = labelled, classifier, autoencoder
        self.widths = None

    def _header(self, r):
        names = [("input", max([5] + [len(n) for n in r.names]))]
        if self.labelled:
            names.append(("label", max([5] + [len(c) for c in self.classes])))
        if self.classifier:
            names.append(("class", max([5] + [len(c) for c in self.classes])))
            if self.top_k:
                names.append(("most probable", 13))
            else:
                names += [(c, max(6, len(c))) for c in self.classes]
        if self.autoencoder:
            names.append(("error", 10))
        self.widths = [w for _, w in names]
        self.stream.write(self._line([n for n, _ in names]) + "\n")
        self.stream.write(self._line(["-" * w for w in self.widths]) + "\n")

    def _line(self, cells):
        return "  ".join(str(c).ljust(w) for c, w in zip(cells, self.widths)).rstrip()

    def write(self, r):
        if self.widths is None:
            self._header(r)
        lines = []
        for i, name in enumerate(r.names):
            cells = [name] + ([r.labels[i] if r.labels is not None else ""] if self.labelled else [])
            if r.p is not None:
                cells.append(self.classes[r.chosen[i]])
                if r.top is not None:
                    cells.append(", ".join(f"{self.classes[j]} {r.p[i, j]:.4f}" for j in r.top[i]))
                else:
                    cells += [f"{v:.4f}" for v in r.p[i]]
            if r.errors is not None:
                cells.append(f"{r.errors[i]:.6g}")
            lines.append(self._line(cells))
        self.stream.write("\n".join(lines) + "\n")


def make_writer(fmt, stream, classes, *, top_k=None, labelled=False, classifier=True, autoencoder=False):
    if fmt in ("jsonl", "json"):
        return JsonLinesWriter(stream, classes)
    if fmt == "csv":
        return CsvWriter(stream, classes, top_k, labelled, classifier, autoencoder)
    return TableWriter(stream, classes, top_k, labelled, classifier, autoencoder)


class Progress:
    """A tqdm bar on stderr when it is a terminal and the work is long enough to watch."""

    def __init__(self, total, description, unit, quiet=False):
        self.bar = None
        if not quiet and sys.stderr.isatty() and (total is None or total >= 1000):
            from tqdm import tqdm

            tqdm.monitor_interval = 0  # no monitor thread: it would be copied into forked workers
            self.bar = tqdm(total=total, desc=description, unit=unit, leave=False, dynamic_ncols=True)

    def update(self, n):
        if self.bar is not None:
            self.bar.update(n)

    def close(self):
        if self.bar is not None:
            self.bar.close()
