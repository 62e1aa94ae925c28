"""TensorBoard event files in RUN/tensorboard/ (train.tensorboard / --tensorboard), written with
tensorboardX, which needs no TensorFlow. Per epoch: the scalars of metrics.jsonl, the confusion
matrix as an image and, for a binary task, the precision-recall curve of the selection split.

An observer of the training loop (nnrun.train.run_record); tensorboardX and matplotlib are
imported only when a run asks for this.
"""
from pathlib import Path

import numpy as np

FOLDER = "tensorboard"
# metrics.jsonl key -> TensorBoard tag
SCALARS = {"train-loss": "loss/train", "loss": "loss/selection", "accuracy": "metrics/accuracy",
           "precision": "metrics/precision", "recall": "metrics/recall", "f-beta": "metrics/f-beta",
           "average-precision": "metrics/average-precision", "threshold": "threshold",
           "learning-rate": "learning-rate", "samples-per-second": "speed/samples-per-second"}


class TensorBoardLog:
    def __init__(self, path, session):
        from nnrun.errors import UserError
        try:
            from tensorboardX import SummaryWriter
        except ImportError:
            raise UserError("train.tensorboard: needs the tensorboardX package (pip install tensorboardX)") from None
        self.session = session
        self.folder = Path(path) / FOLDER
        self._writer_class = SummaryWriter
        self.writer = None

    def started(self, trainer):
        self.writer = self._writer_class(logdir=str(self.folder), flush_secs=30)

    def epoch_finished(self, trainer, record, outputs):
        w, epoch, task = self.writer, record["epoch"], self.session.task
        for key, tag in SCALARS.items():
            value = record.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value):
                w.add_scalar(tag, value, epoch)
        if "confusion-matrix" in record:
            from nnrun.report.confusion import confusion_figure
            from nnrun.report.figures import rgb_array
            image = rgb_array(confusion_figure(record["confusion-matrix"], list(task.classes),
                                               f"epoch {epoch} on {record['split']}"))
            w.add_image("confusion-matrix", image, epoch, dataformats="HWC")
        if outputs is not None and task.positive is not None:
            labels = np.asarray(self.session.selection_data.labels_np) == task.positive
            w.add_pr_curve("precision-recall", labels, outputs[:, task.positive], epoch)
        w.flush()

    def ended(self, trainer, state):
        if self.writer is not None:
            self.writer.close()
            self.writer = None
