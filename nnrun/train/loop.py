"""The training loop: a fold over epochs, Cortex's `train-n` / `train-forever`.

    state -> train an epoch -> evaluate the whole selection split -> tune the threshold ->
    keep the best -> checkpoint (best.nnrun, last.nnrun with the resume state) -> state'

It stops after `epoch-count` epochs (never, when null), after `early-stopping` epochs without a
new best, on Ctrl-C / SIGTERM (the epoch in progress is dropped; both checkpoints stay valid), or
at a non-finite loss (a UserError naming the epoch and batch; the last good checkpoints stay).
At the end the best epoch's confusion matrix is shown, and when a test split exists the best
checkpoint is measured on it at its stored threshold.

Observers (nnrun.train.run_record: status.json, predictions, first-layer weights, TensorBoard)
hear of the start, the progress within an epoch, each finished epoch and the end.
"""
import math
import time

from nnrun.checkpoint import read_checkpoint
from nnrun.errors import UserError
from nnrun.model_io import save_model
from nnrun.progress import bar, shown
from nnrun.train import report
from nnrun.train.console import Console, StopSignal
from nnrun.train.distributed import seed_rank_streams
from nnrun.train.evaluation import denoising_metrics, evaluate, evaluate_outputs
from nnrun.train.metrics import score as metric_score
from nnrun.train.optimizers import learning_rates
from nnrun.train.resume_check import check_resume_payload, load_optimizer_state, load_schedule_state
from nnrun.train.run_folder import BEST, LAST, TEST, write_json_atomic
from nnrun.train.run_record import Observers, default_observers
from nnrun.train.state import rng_state, set_rng_state
from nnrun.train.step import EpochRunner, NonFiniteLoss


class Trainer:
    def __init__(self, session, folder, *, quiet=False, resume=None, hooks=None, observers=None, cortex_block=False):
        self.s = session
        self.folder = folder
        self.world = session.world
        self.main = self.world.main     # in a parallel job only rank 0 speaks and writes
        self.quiet = quiet or not self.main
        self.console = Console(folder if self.main else None, self.quiet)
        self.cortex_block = cortex_block  # the write-up's block on the screen too, not only in train.log
        self.stop = StopSignal()
        self.hooks = hooks or {}
        # status.json, predictions, first-layer weights (and TensorBoard): nnrun.train.run_record
        self.observers = Observers(default_observers(session, folder) + list(observers or [])
                                   if self.main else [])
        self.epoch = 0
        self.best = {"score": None, "epoch": None, "threshold": None, "metrics": None}
        self.since_best = 0
        self._graph = None            # the ONNX graph record, made at the first save (False: none)
        if resume is not None:
            where = folder.file(LAST) if folder else LAST
            try:  # a checkpoint whose resume state fits another network or optimizer: a message
                self._restore(resume, where)
            except (KeyError, TypeError, ValueError, RuntimeError, IndexError, AttributeError) as bad:
                raise UserError(f"{where}: its resume state does not fit this run "
                                f"({type(bad).__name__}: {(str(bad).splitlines() or [''])[0][:200]})") from None

    # ---- resume state
    def resume_state(self):
        s = self.s
        return {
            "epoch": self.epoch,
            "optimizer": s.optimizer.state_dict(),
            "schedule": s.schedule.state_dict() if s.schedule is not None else None,
            "scaler": s.scaler.state_dict() if s.scaler is not None else None,
            "sampler": s.sampler.state_dict(),
            "augmenter": s.augmenter.state_dict(),
            "rng": rng_state(),
            "best": {k: v for k, v in self.best.items() if k != "metrics"},
            "since-best": self.since_best,
            "world-size": self.world.size,  # sampler: global, any count may resume; see distributed.py
            # with a weight average the model file holds the average; training resumes from these
            "training-weights": s.network.state_dict() if s.ema is not None else None,
            "mixer": s.mixer.state_dict() if s.mixer is not None else None,
        }

    def _restore(self, payload, where):
        s, state = self.s, payload["resume"]

        def fail(field, problem):
            raise UserError(f"{where}: {field}: {problem}")

        s.model.load_state_dict({k: v.to(s.device) for k, v in payload["tensors"].items()})
        if s.ema is not None and state.get("training-weights") is not None:
            s.network.load_state_dict({k: v.to(s.device) for k, v in state["training-weights"].items()})
        if s.mixer is not None and state.get("mixer") is not None:
            s.mixer.load_state_dict(state["mixer"])
        load_optimizer_state(s.optimizer, state["optimizer"], fail)
        if s.schedule is not None and state.get("schedule") is not None:
            load_schedule_state(s.schedule, state["schedule"], fail)
        if s.scaler is not None and state.get("scaler"):
            s.scaler.load_state_dict(state["scaler"])
        s.sampler.load_state_dict(state["sampler"])
        s.augmenter.load_state_dict(state["augmenter"])
        set_rng_state(state["rng"])
        self.epoch = int(state["epoch"])
        self.best.update(state["best"])
        self.since_best = int(state["since-best"])

    # ---- checkpoints
    def _save(self, name, metrics, threshold, resume=None):
        if not self.main:
            return
        s = self.s
        task = s.task
        save_model(self.folder.file(name), s.model, classes=list(task.classes),
                   preprocessing=s.preprocessing,
                   positive=task.classes[task.positive] if task.positive is not None else None,
                   threshold=threshold, train=s.spec.train, epoch=self.epoch, metrics=metrics,
                   dataset={"path": str(s.dataset.path), "manifest-sha256": s.manifest_sha256,
                            "selection-split": task.selection_split, "train-split": task.train_split},
                   config=s.spec.resolved(), resume=resume, graph=self._onnx_graph())

    def _onnx_graph(self):
        """The network's ONNX graph for the model files (inference runs it on ONNX Runtime), made
        at the first save: it depends on the network's structure only, not on its weights."""
        if self._graph is None:
            from nnrun.export.onnx_graph import graph_record

            s = self.s
            try:
                self._graph = graph_record(s.network, s.preprocessing, s.task.classes)
            except UserError as problem:
                self._graph = False
                self.console.say(f"note: {problem}; inference will run this network on torch")
        return self._graph or None

    # ---- the fold
    def run(self):
        s, train = self.s, self.s.spec.train
        runner = EpochRunner(s, self.stop)
        count = train["epoch-count"]
        patience = train["early-stopping"]
        for note in s.notes:
            self.console.say(f"note: {note}")
        if self.main:
            warning = report.selection_warning(s)
            if warning is not None:  # on stderr, even with --quiet: it changes what the figures mean
                self.console.say(warning, always=True, err=True)
            self.console.say(report.opening(self.s, self.folder.path))
        outcome = "finished"
        self.observers.started(self)
        with self.stop:
            try:
                while count is None or self.epoch < count:
                    if self.world.any(self.stop()):
                        outcome = "interrupted"
                        break
                    if not self._one_epoch(runner):
                        outcome = "interrupted"
                        break
                    if patience is not None and self.since_best >= patience:
                        outcome = "early-stopped"
                        self.console.say(f"early stopping: no new best in {patience} epochs")
                        break
                self._finish(outcome)
            except NonFiniteLoss as bad:
                self._ended_by_problem("failed")
                self._fail_non_finite(bad)
            except BaseException as problem:  # status.json must not say "running" after this
                self._ended_by_problem("interrupted" if isinstance(problem, KeyboardInterrupt) else "failed")
                raise
            self.observers.ended(self, outcome)
        return outcome

    def _ended_by_problem(self, outcome):
        """Tell the observers the run ended badly. On a full disk, the disk that stopped the run
        refuses status.json too: the error to show is the first one (the file that failed), so
        this second one is dropped (status.json then says running with a dead pid: `nnrun runs`
        shows a stopped run)."""
        try:
            self.observers.ended(self, outcome)
        except UserError:
            pass

    def _progress(self, epoch):
        """The epoch's bar, or None when none is drawn (the step then computes no running loss)."""
        count = self.s.spec.train["epoch-count"]
        return bar(self.s.epoch_size, f"epoch {epoch}" + (f"/{count}" if count else ""), unit="sample",
                   unit_scale=True, mininterval=0.2) if shown(self.quiet) else None

    def _one_epoch(self, runner):
        s, task = self.s, self.s.task
        epoch = self.epoch + 1
        indices = s.sampler.take(s.epoch_size)  # the global epoch: every rank draws the same
        seed_rank_streams(s, epoch)
        progress = self._progress(epoch)
        try:
            if "before-epoch" in self.hooks:
                self.hooks["before-epoch"](epoch)
            result = runner.run(epoch, indices, progress, self.observers.progress(self, epoch))
        finally:
            if progress is not None:
                progress.close()
        if result.interrupted:
            return False
        started = time.perf_counter()
        metrics, outputs = evaluate_outputs(s.model, task, s.selection_data, s.spec.train["eval-batch-size"],
                                             task.threshold, s.autocast_factory, s.world)
        noise = self._denoising_noise()
        if noise is not None:
            metrics.update(denoising_metrics(s.network, s.selection_data, s.spec.train["eval-batch-size"], noise))
        eval_seconds = time.perf_counter() - started
        self.epoch = epoch
        score = metric_score(metrics, task.metric) if metrics.get(task.metric) is not None else None
        better = score is not None and not math.isnan(score) and (self.best["score"] is None
                                                                 or score > self.best["score"])
        threshold = metrics.get("threshold") if task.threshold is not None else None
        if better:
            self.best = {"score": score, "epoch": epoch, "threshold": threshold, "metrics": metrics}
            self.since_best = 0
        else:
            self.since_best += 1
        if s.schedule is not None and score is not None:
            s.schedule.step(score)
        record = {"epoch": epoch, "train-loss": result.loss, "train-seconds": result.seconds,
                  "samples": result.samples, "samples-per-second": result.samples_per_second,
                  "eval-seconds": eval_seconds, "split": task.selection_split, **metrics,
                  "threshold": threshold, "best": better, "learning-rate": learning_rates(s.optimizer)[0]}
        if better:
            self._save(BEST, metrics, threshold)
        # last.nnrun keeps the epoch's metrics line: a kill after its rename and before the append
        # below loses the line, and the resume writes it back (RunFolder.keep_metrics_through)
        self._save(LAST, metrics, threshold, resume=self.resume_state() | {"record": record})
        if self.main:
            self.folder.commit()  # the run's files are this epoch's from here on (a resume's undo goes)
            self.folder.append_metrics(record)
        # one epoch, one line on the screen; the Cortex block (unrounded figures) always goes to train.log
        self.console.say(report.epoch_block(epoch, metrics, task.beta), screen=self.cortex_block)
        self.console.say(report.summary_line(record | {"metrics": metrics}, s.spec.train["epoch-count"],
                                             task.metric, task.beta, task.selection_split))
        self.observers.epoch_finished(self, record, outputs)
        if "after-epoch" in self.hooks:
            self.hooks["after-epoch"](epoch)
        return True

    def _denoising_noise(self):
        """The input-noise of a denoising autoencoder's config, for its evaluation, or None."""
        s = self.s
        if not s.task.autoencoder or not s.augmenter.inputs:
            return None
        items = [i for i in s.augmenter.items if i["name"] == "input-noise"]
        if not items:
            return None
        from nnrun.train.augment import input_noise
        item = items[0]
        return lambda x, g: input_noise(x, g, item["std"], item["fraction"])

    def _fail_non_finite(self, bad):
        kept = (f"best.nnrun and last.nnrun hold epoch {self.epoch}" if self.epoch
                else "nothing was saved (no epoch finished)")
        if self.main:
            self.folder.log(f"error: {bad}")
        raise UserError(f"training stopped: the loss is {bad.value} at epoch {bad.epoch}, batch {bad.batch}; "
                        f"{kept}. Try a lower train.optimizer.learning-rate or set train.gradient-clipping")

    # ---- the end
    def _finish(self, outcome):
        task = self.s.task
        if not self.main:
            return
        if outcome == "interrupted":
            if self.epoch == 0:
                self.console.say(f"stopped ({self.stop.requested}) before the first epoch finished: "
                                 f"nothing to resume", always=True, err=True)
                return
            self.console.say(f"stopped ({self.stop.requested}) during epoch {self.epoch + 1}; "
                             f"last.nnrun holds epoch {self.epoch}. Resume with: "
                             f"nnrun train --resume {self.folder.path}", always=True, err=True)
        if self.best["epoch"] is None:
            self.console.say("no epoch gave a usable score; best.nnrun was not written", always=True)
            return
        best = self.best
        metrics = best.get("metrics")
        if metrics is None and self.folder.file(BEST).exists():  # a resumed run: the best is on disk
            metrics = read_checkpoint(self.folder.file(BEST)).get("metrics")
        line = f"best: epoch {best['epoch']} ({task.metric} {_show_score(best['score'], task.metric)}"
        if best.get("threshold") is not None:
            line += f", threshold {best['threshold']:.6g}"
        self.console.say(line + f") in {self.folder.file(BEST)}", always=True)
        if metrics and "confusion-matrix" in metrics:
            self.console.say(f"confusion matrix of the best epoch on {task.selection_split}:\n"
                             + report.confusion_table(metrics["confusion-matrix"], list(task.classes)))
        if task.test_split is not None:
            self._test()

    def _test(self):
        s, task = self.s, self.s.task
        payload = read_checkpoint(self.folder.file(BEST))
        s.network.load_state_dict({k: v.to(s.device) for k, v in payload["tensors"].items()})
        threshold = payload.get("threshold")
        metrics = evaluate(s.network, task, s.test_data, s.spec.train["eval-batch-size"],
                           threshold if task.threshold is not None else None, s.autocast_factory)
        write_json_atomic(self.folder.file(TEST), {"epoch": payload.get("epoch"), "split": task.test_split,
                                                  "threshold": threshold, **metrics})
        head = f"test ({task.test_split}, best epoch {payload.get('epoch')}"
        head += f", threshold {threshold:.6g})" if threshold is not None else ")"
        lines = [head]
        if "f-beta" in metrics:
            lines += [f"Precision: {metrics['precision']}", f"Recall: {metrics['recall']}",
                      f"{report.f_label(task.beta)}: {metrics['f-beta']}",
                      f"Average precision: {metrics['average-precision']}"]
        if "accuracy" in metrics:
            lines.append(f"Accuracy: {metrics['accuracy']}")
        lines.append(f"Loss: {metrics['loss']}")
        self.console.say("\n".join(lines), always=True)
        if "confusion-matrix" in metrics:
            self.console.say(report.confusion_table(metrics["confusion-matrix"], list(task.classes)))
        return metrics


def _show_score(score, metric):
    return f"{-score:.6g}" if metric == "loss" else f"{score:.6g}"


def load_resume_payload(path):
    payload = read_checkpoint(path)
    if "resume" not in payload or "config" not in payload:
        raise UserError(f"{path}: holds no resume state (is it a best.nnrun?)")
    check_resume_payload(payload, path)
    return payload
