"""The confusion matrix as Cortex's live view drew it, and per-class precision/recall bars.

Rows are the actual class, columns the predicted one; each row's cells are coloured by their
share of the row (so a rare class reads as clearly as a common one); a column of per-class
recall on the right, a row of per-class precision at the bottom, the accuracy in the corner.
"""
import numpy as np
from matplotlib.patches import Rectangle

from nnrun.report.figures import figure
from nnrun.train.metrics import per_class

MARGIN_COLOUR = "#e8f0e8"


def plain_label(name, limit=14):
    """A class name as plain text for matplotlib: shortened, and `$` escaped (it starts mathtext)."""
    name = str(name)
    name = name if len(name) <= limit else name[:limit - 1] + "…"
    return name.replace("$", r"\$")


def confusion_figure(matrix, classes, title="confusion matrix"):
    matrix = np.asarray(matrix, dtype=np.int64)
    k = len(classes)
    precision, recall = per_class(matrix)
    rows = matrix.sum(1, keepdims=True)
    share = np.divide(matrix, rows, out=np.zeros(matrix.shape), where=rows > 0)
    accuracy = np.trace(matrix) / max(matrix.sum(), 1)
    side = min(max(3.2, 0.7 * (k + 1) + 1.6), 14)
    fig = figure(side + 0.6, side)
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1, extent=(-0.5, k - 0.5, k - 0.5, -0.5))
    ax.set_xlim(-0.5, k + 0.5)
    ax.set_ylim(k + 0.5, -0.5)
    for i in range(k + 1):  # the recall column, the precision row and the corner
        for j in range(k + 1):
            if i < k and j < k:
                continue
            ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor=MARGIN_COLOUR, edgecolor="white"))
    text = k <= 20
    size = max(5, 11 - k // 3)
    if text:
        for i in range(k):
            for j in range(k):
                colour = "white" if share[i, j] > 0.6 else "black"
                ax.text(j, i, f"{matrix[i, j]}\n{share[i, j]:.0%}", ha="center", va="center",
                        fontsize=size, color=colour)
            ax.text(k, i, f"{recall[i]:.3f}", ha="center", va="center", fontsize=size)
        for j in range(k):
            ax.text(j, k, f"{precision[j]:.3f}", ha="center", va="center", fontsize=size)
    ax.text(k, k, f"{accuracy:.3f}", ha="center", va="center", fontsize=size, fontweight="bold")
    names = [plain_label(c) for c in classes]
    ax.set_xticks(range(k + 1), names + ["recall"], rotation=45 if k > 4 else 0, ha="right" if k > 4 else "center")
    ax.set_yticks(range(k + 1), names + ["precision"])
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title(title)
    return fig


def per_class_figure(per_class_metrics, title="per-class precision and recall"):
    """Bars of precision and recall per class, from a metrics record's "per-class" map."""
    names = list(per_class_metrics)
    k = len(names)
    fig = figure(min(max(4.5, 0.6 * k + 2), 14), 3.6)
    ax = fig.add_subplot(1, 1, 1)
    x = np.arange(k)
    ax.bar(x - 0.2, [per_class_metrics[n]["precision"] for n in names], 0.4, label="precision")
    ax.bar(x + 0.2, [per_class_metrics[n]["recall"] for n in names], 0.4, label="recall")
    ax.set_xticks(x, [plain_label(n) for n in names], rotation=45 if k > 4 else 0, ha="right" if k > 4 else "center")
    ax.set_ylim(0, 1.05)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    return fig
