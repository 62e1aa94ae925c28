"""What a run records for the commands that look at it (the live page, `nnrun report`,
`nnrun runs`), beyond metrics.jsonl and the checkpoints:

    status.json                 where the run stands (written atomically: start, every ~2 s during
                                an epoch, after each epoch, at the end, also on failure)
    predictions/last.npz        the selection split's per-example outputs of the last epoch
    predictions/best.npz        ... of the best epoch (absent for autoencoders)
    first-layer/epoch-NNNN.npy  the first trainable layer's weights after each epoch
    first-layer/layer.json      which layer that is, and the network input's shape

The training loop drives observers through four calls (see `Observers`); this module's
`RunRecord` is one, nnrun.train.tensorboard's `TensorBoardLog` another. They cost the loop
almost nothing: progress comes from the loss checks the step already makes (no extra device
sync), and the per-epoch files are small (the predictions come from the evaluation's own pass).
"""
import datetime
import json
import os
from pathlib import Path

import numpy as np

from nnrun.atomic import atomic_file, save_npy
from nnrun.errors import os_problem
from nnrun.train.metrics import predict
from nnrun.train.run_folder import replace_text, write_json_atomic

STATUS, PREDICTIONS, FIRST_LAYER = "status.json", "predictions", "first-layer"
PROGRESS_SECONDS = 2.0
# The loop's outcomes (and an exception) -> status.json's "state".
STATES = {"finished": "finished", "interrupted": "stopped", "early-stopped": "early-stopped",
          "failed": "failed"}


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Observers:
    """Fans the loop's events out to every observer. An observer has any of:
    started(trainer), progress(trainer, epoch, samples, total, seconds),
    epoch_finished(trainer, record, outputs) and ended(trainer, state)."""

    def __init__(self, observers):
        self.items = list(observers)

    def _call(self, name, *args):
        for observer in self.items:
            method = getattr(observer, name, None)
            if method is not None:
                method(*args)

    def started(self, trainer):
        self._call("started", trainer)

    def progress(self, trainer, epoch):
        """An on_progress callback for EpochRunner.run, or None when nobody listens."""
        listeners = [o for o in self.items if hasattr(o, "progress")]
        if not listeners:
            return None

        def on_progress(samples, total, seconds):
            for observer in listeners:
                observer.progress(trainer, epoch, samples, total, seconds)
        return on_progress

    def epoch_finished(self, trainer, record, outputs):
        self._call("epoch_finished", trainer, record, outputs)

    def ended(self, trainer, outcome):
        self._call("ended", trainer, STATES.get(outcome, outcome))


def default_observers(session, folder):
    """The run record always; TensorBoard's event files when train.tensorboard is on."""
    observers = [RunRecord(folder.path, session)]
    if session.spec.train.get("tensorboard"):
        from nnrun.train.tensorboard import TensorBoardLog
        observers.append(TensorBoardLog(folder.path, session))
    return observers


def first_trainable_weight(network):
    """(layer id, parameter name, tensor) of the first layer, in plan order, with a trainable weight
    of two or more dimensions; None when there is none."""
    from nnrun.network.build import module_key
    for node in network.plan.nodes:
        key = module_key(node.id)
        if key not in network.layers:
            continue
        for name, parameter in network.layers[key].named_parameters():
            if parameter.requires_grad and parameter.dim() >= 2 and name.endswith("weight"):
                return node.id, name, parameter
    return None


def save_npz_atomic(path, **arrays):
    try:
        with atomic_file(path, "wb") as f:
            np.savez(f, **arrays)
    except OSError as problem:  # a full disk: no temporary left, the error names the file
        raise os_problem(problem, path) from None


class RunRecord:
    def __init__(self, path, session, interval=PROGRESS_SECONDS):
        self.path = Path(path)
        self.session = session
        self.interval = interval
        self._last_write = None
        self.weight = first_trainable_weight(session.network)

    def _status(self, trainer, state, in_progress=None):
        write_json_atomic(self.path / STATUS, {
            "state": state, "pid": os.getpid(), "epoch": trainer.epoch,
            "epoch-count": self.session.spec.train["epoch-count"], "best-epoch": trainer.best["epoch"],
            "updated": utc_now(), "in-progress": in_progress})

    def started(self, trainer):
        self._status(trainer, "running")
        if self.weight is not None:
            folder = self.path / FIRST_LAYER
            folder.mkdir(exist_ok=True)
            layer, name, tensor = self.weight
            # replaced whole, not rewritten in place: a full disk then leaves the old file, not an
            # empty one, and a failed resume can put the old one back (RunFolder.keep_for_undo)
            replace_text(folder / "layer.json", json.dumps(
                {"layer": layer, "parameter": name, "shape": list(tensor.shape),
                 "input-shape": list(self.session.input_dims)}) + "\n")

    def progress(self, trainer, epoch, samples, total, seconds):
        now = seconds  # the epoch's own clock: throttle within it, and always report its first check
        if self._last_write is not None and self._last_write[0] == epoch and now - self._last_write[1] < self.interval:
            return
        self._last_write = (epoch, now)
        self._status(trainer, "running", {"epoch": epoch, "samples": int(samples), "of": int(total),
                                          "samples-per-second": samples / seconds if seconds > 0 else 0.0})

    def epoch_finished(self, trainer, record, outputs):
        epoch = record["epoch"]
        if outputs is not None:
            self._predictions(record, outputs)
        if self.weight is not None:
            weight = self.weight[2].detach().to("cpu").float().numpy()
            path = self.path / FIRST_LAYER / f"epoch-{epoch:04d}.npy"
            try:  # atomically: this comes after last.nnrun, so a kill here would leave a torn
                with atomic_file(path, "wb") as f:  # file no resume rewrites (report reads them all)
                    save_npy(f, weight)
            except OSError as problem:
                raise os_problem(problem, path) from None
        self._status(trainer, "running")

    def _predictions(self, record, outputs):
        task, data = self.session.task, self.session.selection_data
        folder = self.path / PREDICTIONS
        folder.mkdir(exist_ok=True)
        threshold = record.get("threshold") if task.positive is not None else None
        arrays = dict(epoch=np.int64(record["epoch"]), split=np.str_(record["split"]),
                      probabilities=outputs.astype(np.float32), labels=np.asarray(data.labels_np, dtype=np.int64),
                      predicted=predict(outputs, task.positive, threshold).astype(np.int64),
                      index=np.arange(len(outputs), dtype=np.int64))
        for name in ("last", "best") if record.get("best") else ("last",):
            save_npz_atomic(folder / f"{name}.npz", **arrays)

    def ended(self, trainer, state):
        if self.path.exists():  # a run stopped before its first epoch is removed
            self._status(trainer, state)
