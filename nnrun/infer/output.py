"""Writing predictions as they come: JSON lines, CSV, or an aligned table for a terminal.

A writer takes one batch at a time and writes it straight out, so a million rows never sit in
memory. Every record carries the input's name; a classifier adds its probability map (every
class in class order, or the --top-k most probable, most probable first) and its class, an
autoencoder its reconstruction error, and a labelled input its true label.
"""
import csv
import json
from dataclasses import dataclass

FORMATS = ("jsonl", "csv", "table")
LONG = 1000  # items: fewer finish too soon for a progress bar to help


def number(value):
    """A probability or error for the output: 6 significant digits, as a plain float."""
    return float(f"{value:.6g}")


def _probability(value):
    """number(value) as csv.writer writes it (repr of the float), without the round trip."""
    text = f"{value:.6g}"
    return text if ("." in text or "e" in text or "n" in text) else text + ".0"


def _quoted(text):
    """A CSV field as csv.writer (minimal quoting) writes it."""
    if "," in text or '"' in text or "\n" in text or "\r" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


@dataclass
class Results:
    """One batch's results: names, and whichever of the rest apply."""
    names: list
    labels: list = None            # true class names
    p: object = None               # probabilities [N, K]
    chosen: object = None          # class indices [N]
    top: object = None             # indices [N, k] of the most probable classes
    errors: object = None          # reconstruction errors [N]


class JsonLinesWriter:
    def __init__(self, stream, classes, **_):
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


class _ColumnWriter:
    """CSV and the aligned table share their columns: input, label, class, then each class's
    probability (or the top k), then the reconstruction error."""

    def __init__(self, stream, classes, top_k=None, labelled=False, classifier=True, autoencoder=False):
        self.stream, self.classes, self.top_k = stream, classes, top_k
        self.labelled, self.classifier, self.autoencoder = labelled, classifier, autoencoder

    def cells(self, r, i, probability):
        """Row i's cells; `probability(v)` formats one probability."""
        cells = [r.names[i]] + ([r.labels[i] if r.labels is not None else ""] if self.labelled else [])
        if r.p is not None:
            cells.append(self.classes[r.chosen[i]])
            if r.top is not None:
                cells += self.top_cells([(self.classes[j], probability(r.p[i, j])) for j in r.top[i]])
            else:
                cells += [probability(v) for v in r.p[i]]
        if r.errors is not None:
            cells.append(number(r.errors[i]))
        return cells


class CsvWriter(_ColumnWriter):
    def __init__(self, stream, classes, **options):
        super().__init__(stream, classes, **options)
        self.out = csv.writer(stream, lineterminator="\n")
        header = ["input"] + (["label"] if self.labelled else [])
        if self.classifier:
            header.append("classification")
            if self.top_k:
                header += [name for k in range(1, self.top_k + 1) for name in (f"top{k}", f"p{k}")]
            else:
                header += [f"p({c})" for c in classes]
        if self.autoencoder:
            header.append("reconstruction-error")
        self.out.writerow(header)

    @staticmethod
    def top_cells(pairs):
        return [cell for pair in pairs for cell in pair]

    def write(self, r):
        if r.p is None or r.top is not None or r.errors is not None:
            self.out.writerows(self.cells(r, i, number) for i in range(len(r.names)))
            return
        # The common case, a classifier's probabilities, formatted a batch at a time: the same
        # text csv.writer gives (6 significant digits as a float's repr), at a third of its cost,
        # which matters at a hundred thousand table rows a second.
        chosen = [_quoted(self.classes[k]) for k in r.chosen]
        names = [_quoted(str(n)) for n in r.names]
        labels = [_quoted(str(v)) for v in r.labels] if self.labelled and r.labels is not None else None
        lines = []
        for i, row in enumerate(r.p.tolist()):
            cells = ",".join(_probability(v) for v in row)
            label = (labels[i] + ",") if labels is not None else ("," if self.labelled else "")
            lines.append(f"{names[i]},{label}{chosen[i]},{cells}\n")
        self.stream.write("".join(lines))


class TableWriter(_ColumnWriter):
    """Aligned columns for reading in a terminal; widths come from the first batch."""
    widths = None

    @staticmethod
    def top_cells(pairs):
        return [", ".join(f"{name} {p}" for name, p in pairs)]

    def _header(self, r):
        names = [("input", max([5] + [len(n) for n in r.names]))]
        if self.labelled:
            names.append(("label", max([5] + [len(c) for c in self.classes])))
        if self.classifier:
            names.append(("class", max([5] + [len(c) for c in self.classes])))
            names += [("most probable", 13)] if self.top_k else [(c, max(6, len(c))) for c in self.classes]
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
        rows = (self._line(self.cells(r, i, lambda v: f"{v:.4f}")) for i in range(len(r.names)))
        self.stream.write("\n".join(rows) + "\n")


WRITERS = {"jsonl": JsonLinesWriter, "json": JsonLinesWriter, "csv": CsvWriter, "table": TableWriter}


def make_writer(fmt, stream, classes, **options):
    """The writer of format `fmt` (FORMATS); options: top_k, labelled, classifier, autoencoder."""
    return WRITERS[fmt](stream, classes, **options)
