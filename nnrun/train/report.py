"""Text a person reads: the fraud write-up's per-epoch block, a one-line summary per epoch, the
confusion matrix with per-class recall and precision, and a metrics table for `evaluate`."""
from nnrun.train.metrics import f_label


def epoch_block(epoch, metrics, beta):
    """The write-up's block: `Epoch: N`, then Precision/Recall/F1 (binary), Accuracy or Loss."""
    lines = [f"Epoch: {epoch}"]
    if "f-beta" in metrics:
        lines += [f"Precision: {metrics['precision']}", f"Recall: {metrics['recall']}",
                  f"{f_label(beta)}: {metrics['f-beta']}"]
    elif "accuracy" in metrics:
        lines.append(f"Accuracy: {metrics['accuracy']}")
    else:
        lines.append(f"Loss: {metrics['loss']}")
    return "\n".join(lines)


def _num(value, digits=4):
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def summary_line(record, epoch_count, metric, beta, split):
    """One line per epoch: times, losses, the selection metrics, and a mark for a new best."""
    total = f"/{epoch_count}" if epoch_count else ""
    m = record["metrics"]
    parts = [f"epoch {record['epoch']}{total}",
             f"train loss {_num(record['train-loss'])}",
             f"{record['train-seconds']:.1f} s ({record['samples-per-second']:,.0f} samples/s)",
             f"eval {record['eval-seconds']:.1f} s",
             f"{split} loss {_num(m.get('loss'))}"]
    if "accuracy" in m:
        parts.append(f"accuracy {_num(m['accuracy'])}")
    if "f-beta" in m:
        parts.append(f"{f_label(beta)} {_num(m['f-beta'])} @ {_num(m.get('threshold'))}")
        parts.append(f"AP {_num(m.get('average-precision'))}")
    if "denoising-mse" in m:
        parts.append(f"denoising mse {_num(m['denoising-mse'], 5)} (identity {_num(m['identity-mse'], 5)})")
    line = "  ".join(parts)
    if record.get("best"):
        line += f"  * new best {metric}"
    return line


def confusion_table(matrix, classes):
    """Rows actual, columns predicted, a column of per-class recall, a row of per-class precision and
    the accuracy in the corner, as Cortex's live view drew it."""
    k = len(classes)
    names = [str(c) for c in classes]
    predicted = [sum(matrix[r][c] for r in range(k)) for c in range(k)]
    actual = [sum(row) for row in matrix]
    total = sum(actual)
    correct = sum(matrix[i][i] for i in range(k))
    header = ["actual \\ predicted"] + names + ["recall"]
    rows = [header]
    for i, name in enumerate(names):
        recall = matrix[i][i] / actual[i] if actual[i] else 0.0
        rows.append([name] + [str(v) for v in matrix[i]] + [f"{recall:.4f}"])
    precision = [f"{matrix[c][c] / predicted[c]:.4f}" if predicted[c] else "-" for c in range(k)]
    rows.append(["precision"] + precision + [f"{correct / total:.4f}" if total else "-"])
    widths = [max(len(r[c]) for r in rows) for c in range(len(header))]
    return "\n".join("  ".join(cell.rjust(w) if c else cell.ljust(w) for c, (cell, w) in enumerate(zip(row, widths)))
                     for row in rows)


def metrics_table(metrics, classes, beta):
    """`nnrun evaluate`'s text output."""
    lines = [f"examples: {metrics.get('count')}", f"loss: {_num(metrics.get('loss'), 6)}"]
    if "accuracy" in metrics:
        lines.append(f"accuracy: {_num(metrics['accuracy'])}")
    if "f-beta" in metrics:
        lines += [f"positive class: {metrics['positive']}  threshold: {_num(metrics.get('threshold'), 6)}",
                  f"precision: {_num(metrics['precision'])}", f"recall: {_num(metrics['recall'])}",
                  f"{f_label(beta)}: {_num(metrics['f-beta'])}",
                  f"average precision: {_num(metrics['average-precision'])}"]
    if "per-class" in metrics:
        width = max(len("class"), *(len(str(c)) for c in classes))
        lines.append("")
        lines.append(f"{'class'.ljust(width)}  precision  recall  examples")
        for name, row in metrics["per-class"].items():
            lines.append(f"{str(name).ljust(width)}  {row['precision']:9.4f}  {row['recall']:6.4f}  {row['count']:8d}")
    if "confusion-matrix" in metrics:
        lines.append("")
        lines.append(confusion_table(metrics["confusion-matrix"], classes))
    return "\n".join(lines)


def _positive(s):
    """Which class is positive, when the config did not name it and it matters (two classes)."""
    if s.spec.train["metric"]["positive"] is not None or s.task.positive is None or len(s.task.classes) != 2:
        return ""
    return (f"; positive class {s.task.classes[s.task.positive]} (the rarer; "
            f"train.metric.positive names another)")


def opening(s, folder):
    """The line a training run starts with: what trains on what, where, how, and into which folder."""
    what = {"f-beta": f"{f_label(s.task.beta)} of class {s.task.classes[s.task.positive]}"
            if s.task.positive is not None else "f-beta",
            "accuracy": "accuracy", "loss": "loss"}[s.task.metric]
    count = s.spec.train["epoch-count"]
    epochs = f"{count} epochs" if count else "until stopped"
    where = f"{s.device} ({s.precision}, {s.threads} thread{'s' if s.threads != 1 else ''})"
    if s.world.parallel:
        where = (f"{s.world.size} processes ({'nccl' if s.device.type == 'cuda' else 'gloo'}), each on "
                 f"{s.device.type} ({s.precision}, {s.threads} thread{'s' if s.threads != 1 else ''})")
    return (f"training {s.spec.name} on {s.dataset.path} ({s.task.train_split}: {s.train_data.count}) on "
            f"{where}: {epochs} of {s.epoch_size:,} samples, batch {s.batch_size}"
            f"{f' ({s.batch_size // s.world.size} per process)' if s.world.parallel else ''}, "
            f"{s.spec.train['sampling']} sampling; best by {what} on {s.task.selection_split}{_positive(s)}\n"
            f"run folder: {folder}")


def selection_warning(s):
    """One line when the split that selects the best epoch (and tunes the threshold) is the one
    whose figures a person takes for held-out ones: they are then optimistic. None otherwise."""
    task, data = s.task, s.spec.data
    chosen = "the best epoch and its threshold are" if task.threshold is not None else "the best epoch is"
    if task.selection_split == "test":
        why = (f"{s.dataset.path} has no validation split" if data["selection-split"] == "auto"
               else "data.selection-split is test")
        return (f"warning: {why}: {chosen} chosen on the test split, so its figures are optimistic; "
                f"prepare the dataset with --validation-size to keep the test split for the end")
    if task.selection_split == task.test_split:
        return (f"warning: data.test-split {task.test_split} is also the selection split: {chosen} chosen on it, "
                f"so its test figures are optimistic")
    return None
