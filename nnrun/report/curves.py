"""Learning curves per epoch (losses, selection metrics, threshold, learning rate, with the best
epoch marked) and the precision-recall curve of one epoch's predictions with its threshold marked."""
import numpy as np
from matplotlib.ticker import MaxNLocator

from nnrun.report.figures import BEST_COLOUR, figure
from nnrun.train.metrics import average_precision, precision_recall_curve

PANELS = (
    ("loss", (("train-loss", "training"), ("loss", "selection"))),
    ("metrics", (("accuracy", "accuracy"), ("precision", "precision"), ("recall", "recall"),
                 ("f-beta", "F-beta"), ("average-precision", "average precision"))),
    ("threshold", (("threshold", "threshold"),)),
    ("learning rate", (("learning-rate", "learning rate"),)),
)


def _series(records, key):
    points = [(r["epoch"], r.get(key)) for r in records]
    points = [(e, v) for e, v in points if isinstance(v, (int, float)) and not isinstance(v, bool)
              and np.isfinite(v)]
    return [e for e, _ in points], [v for _, v in points]


def curves_figure(records, best_epoch, split="selection"):
    """One panel per kind of curve the records hold; the best epoch a dashed line in each."""
    panels = []
    for title, lines in PANELS:
        drawn = [(label, *_series(records, key)) for key, label in lines]
        drawn = [d for d in drawn if d[1]]
        if drawn:
            panels.append((title, drawn))
    columns = 2 if len(panels) > 1 else 1
    rows = (len(panels) + columns - 1) // columns
    fig = figure(5.2 * columns, 3.2 * rows)
    for n, (title, drawn) in enumerate(panels, 1):
        ax = fig.add_subplot(rows, columns, n)
        for label, epochs, values in drawn:
            ax.plot(epochs, values, marker="o" if len(epochs) < 30 else None, markersize=3, label=label)
        if best_epoch is not None:
            ax.axvline(best_epoch, color=BEST_COLOUR, linestyle="--", linewidth=1, label=f"best (epoch {best_epoch})")
        if title == "learning rate" and all(v > 0 for _, _, vs in drawn for v in vs):
            ax.set_yscale("log")
        ax.set_title(title if title != "loss" else f"loss (training, {split})")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def pr_figure(is_positive, scores, threshold, title):
    """Precision against recall over every cut of `scores`; the cut at `threshold` marked."""
    is_positive = np.asarray(is_positive, dtype=bool)
    precision, recall, _ = precision_recall_curve(is_positive, scores)
    positives = max(int(is_positive.sum()), 1)
    fig = figure(5.0, 4.2)
    ax = fig.add_subplot(1, 1, 1)
    ax.step(np.r_[0.0, recall], np.r_[precision[0] if len(precision) else 1.0, precision], where="pre",
            label=f"average precision {average_precision(is_positive, scores):.4f}")
    if threshold is not None:
        chosen = np.asarray(scores) >= threshold
        hits = int(np.sum(chosen & is_positive))
        p = hits / max(int(chosen.sum()), 1)
        r = hits / positives
        ax.plot([r], [p], "o", color=BEST_COLOUR, markersize=8,
                label=f"threshold {threshold:.4g}: precision {p:.3f}, recall {r:.3f}")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title(title)
    return fig
