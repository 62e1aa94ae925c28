"""The most confident mistakes of each class: the examples of the selection split that the best
epoch got wrong with the highest probability for the class it chose. For image datasets,
thumbnails, one row per actual class; the pixels come from the prepared dataset (as stored,
0..255). For tables, rows of the table as they were in the file (nnrun.report.rows), which page.py
writes as an HTML table."""
from dataclasses import dataclass

import numpy as np

from nnrun.report.confusion import plain_label
from nnrun.report.figures import figure

PER_CLASS = 8


def confident_mistakes(predictions, per_class=PER_CLASS):
    """{actual class index: [(row in the split, predicted index, its probability)]}, most confident first."""
    probabilities, labels = predictions["probabilities"], predictions["labels"]
    predicted, index = predictions["predicted"], predictions["index"]
    chosen = probabilities[np.arange(len(predicted)), predicted]
    found = {}
    for k in np.unique(labels):
        wrong = np.nonzero((labels == k) & (predicted != k))[0]
        order = wrong[np.argsort(-chosen[wrong], kind="stable")][:per_class]
        found[int(k)] = [(int(index[i]), int(predicted[i]), float(chosen[i])) for i in order]
    return found


# The grid in inches: every thumbnail the same size, with room above it for its two-line
# caption, so that no caption reaches into the row above (a tight layout shrank the gaps away).
THUMB, CAPTION, GAP, LABELS, TOP = 1.2, 0.36, 0.12, 0.75, 0.45


def mistakes_figure(found, images, classes, positive=None, threshold=None):
    """A grid: one row per actual class, its mistakes' thumbnails captioned with the class
    predicted and a probability named by its class: P(positive), the figure the threshold decided
    on, for a two-class task with a positive class; else P(predicted class).
    found: confident_mistakes' map; images: the split's stored array [N, C, S, S] (uint8,
    memory-mapped is fine)."""
    rows = [k for k in sorted(found) if found[k]]
    if not rows:
        return None
    columns = max(len(found[k]) for k in rows)
    width = LABELS + columns * (THUMB + GAP)
    height = TOP + len(rows) * (CAPTION + THUMB + GAP)
    fig = figure(width, height)
    two_classes = positive is not None and len(classes) == 2
    for r, k in enumerate(rows):
        bottom = height - TOP - (r + 1) * (CAPTION + THUMB + GAP) + GAP
        for c in range(columns):
            ax = fig.add_axes([(LABELS + c * (THUMB + GAP)) / width, bottom / height, THUMB / width, THUMB / height])
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if c == 0:
                ax.set_ylabel(f"actual\n{plain_label(classes[k])}", fontsize=8)
            if c >= len(found[k]):
                ax.set_axis_off()
                continue
            row, predicted, probability = found[k][c]
            pixels = np.asarray(images[row])
            if pixels.shape[0] == 3:
                ax.imshow(pixels.transpose(1, 2, 0))
            else:
                ax.imshow(pixels[0], cmap="gray", vmin=0, vmax=255)
            named = positive if two_classes else predicted
            shown = probability if named == predicted else 1.0 - probability  # two classes: the other one
            ax.set_title(f"{plain_label(classes[predicted], 16)}\nP({plain_label(classes[named], 10)}) {shown:.2f}",
                         fontsize=7, linespacing=1.2, pad=3)
    if two_classes:
        rule = f" at threshold {threshold:.2f}" if threshold is not None else ""
        about = f"the class predicted; P({plain_label(classes[positive], 16)}), which decided it{rule}"
    else:
        about = "the class predicted and its probability"
    fig.suptitle(f"most confident mistakes ({about})", fontsize=9, y=1 - 0.12 / height, va="top")
    return fig


@dataclass
class MistakeRows:
    columns: list   # the table's column names (ReadableRows.columns)
    numeric: list   # per column: numbers, right-aligned
    decoded: bool   # raw values (text) rather than feature values
    rows: list      # (id, actual class, predicted class, its probability, values), per actual class in order
    note: str = None


def mistake_rows(found, dataset, split, classes):
    """The table rows of confident_mistakes' `found` (rows of `split` of a table dataset), or None
    when there are none."""
    from nnrun.report.rows import readable_rows, shown_ids

    chosen = [(k, row, predicted, probability)
              for k in sorted(found) for row, predicted, probability in found[k]]
    if not chosen:
        return None
    readable = readable_rows(dataset, dataset.x(split), [row for _, row, _, _ in chosen])
    ids, damaged = shown_ids(dataset, split)
    rows = [(ids[row] if ids and row < len(ids) else f"row {row}", _class(classes, k), _class(classes, predicted),
             probability, values)
            for (k, row, predicted, probability), values in zip(chosen, readable.values)]
    return MistakeRows(readable.columns, readable.numeric, readable.decoded, rows, damaged)


def _class(classes, k):
    return classes[k] if 0 <= k < len(classes) else str(k)
