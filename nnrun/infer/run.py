"""`nnrun infer`: a checkpoint and inputs -> one record per input, streamed.

Inputs (inputs.py) -> the model and its engine (model.py) -> outputs per batch (predict.Work)
-> records (output.py). Nothing is written before every input has been checked.
"""
import os
import re
import sys
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass

from nnrun.atomic import atomic_file, atomic_folder, refuse_overwriting
from nnrun.errors import UserError
from nnrun.infer.inputs import BadItems, discover
from nnrun.infer.model import PredictOptions, open_models
from nnrun.infer.output import LONG, Results, make_writer
from nnrun.infer.predict import Decision, Work, top_k
from nnrun.progress import bar


@dataclass
class InferOptions(PredictOptions):
    fmt: str = "jsonl"
    out: str = None               # a file, or None for stdout
    top_k: int = None
    label_column: str = None
    reconstructions: str = None   # folder for --save-reconstructions


def run_infer(checkpoint, inputs, options, stdout=None, warn=None):
    """Run inference; returns the list of skipped (name, reason)."""
    stdout = stdout or sys.stdout
    warn = warn or (lambda message: print(message, file=sys.stderr))
    refuse_overwriting(options.out, [checkpoint, *inputs])
    sources = discover(inputs, split=options.split, id_column=options.id_column, label_column=options.label_column)
    (model,) = open_models([checkpoint], sources, options, warn)
    work = Work([model])
    with ExitStack() as stack:
        decision = None if model.is_autoencoder else Decision.for_model(model, options.positive, options.threshold)
        _check_options(model, options)
        # The rule that turned probabilities into classes: one line on stderr (the records stay as
        # they were) when the records appear: before the first on standard output, after the whole
        # -o file is in place. An input refused before then is still one line.
        rule = decision.describe() if decision is not None else None
        labelled = any(getattr(s, "label_column", None) or getattr(getattr(s, "dataset", None), "labelled", False)
                       for s in sources)
        bad = BadItems(options.skip_bad)
        saver = None
        if options.reconstructions:
            saver = Reconstructions(stack.enter_context(atomic_folder(options.reconstructions,
                                                                      "--save-reconstructions")), model)
            stack.callback(saver.close)
        target = stack.enter_context(atomic_file(options.out) if options.out else nullcontext(stdout))
        writer = make_writer(options.fmt, target, model.classes, top_k=options.top_k, labelled=labelled,
                             classifier=not model.is_autoencoder, autoencoder=model.reconstructs)
        total = sum(len(s) for s in sources) or None
        quiet = options.quiet or (not options.out and stdout.isatty()) or (total or 0) < LONG
        progress = bar(total, "infer", quiet, unit="item")
        stack.callback(progress.close)
        written = 0
        for source in sources:
            for batch in source.batches(options.batch_size or source.default_batch, bad, work):
                outputs = batch.outputs
                result = Results(batch.names, labels=batch.labels)
                if "probabilities" in outputs:
                    result.p = outputs["probabilities"]
                    result.chosen = decision.decide(result.p)
                    if options.top_k:
                        result.top = top_k(result.p, options.top_k)
                if "reconstruction" in outputs:
                    result.errors = outputs["reconstruction_error"]
                    if saver:
                        saver.save(batch, model.preprocessing.stored(outputs["reconstruction"]))
                if rule is not None and not options.out:
                    print(f"decision: {rule}", file=sys.stderr)
                    rule = None
                writer.write(result)
                written += len(batch.names)
                progress.update(len(batch.names))
        if written == 0:
            raise UserError("no input could be read" + (f" ({len(bad.skipped)} skipped)" if bad.skipped else ""))
        if hasattr(target, "flush"):
            target.flush()
    if rule is not None:
        print(f"decision: {rule}", file=sys.stderr)
    bad.report(warn, "input(s)")
    for source in sources:
        for note in getattr(source, "notes", list)():
            warn(note)
    return bad.skipped


def _check_options(model, options):
    if options.top_k is not None:
        if model.is_autoencoder:
            raise UserError(f"--top-k is for classifiers; {model.path} is an autoencoder")
        if options.top_k < 1:
            raise UserError("--top-k must be at least 1")
    if options.reconstructions and not model.reconstructs:
        raise UserError(f"--save-reconstructions is for autoencoders; {model.path} has no leaf with a target")


class Reconstructions:
    """--save-reconstructions: into `folder` (a temporary one that becomes DIR only when the
    command succeeds, nnrun.atomic.atomic_folder), a PNG per image input, named by its file
    name's stem (-2, -3 ... when two inputs share one), or one CSV of reconstructed feature rows
    for table inputs."""

    def __init__(self, folder, model):
        self.folder, self.model = folder, model
        self.used = set()
        self.table = None

    def save(self, batch, values):
        if self.model.kind == "images":
            from nnrun.data.decode import stored_image

            for name, pixels in zip(batch.names, values):
                stored_image(pixels).save(os.path.join(self.folder, self._file_name(name)))
            return
        import csv

        if self.table is None:
            self.table_file = open(os.path.join(self.folder, "reconstructions.csv"), "w", newline="")
            self.table = csv.writer(self.table_file, lineterminator="\n")
            self.table.writerow(["input"] + list(self.model.preprocessing.features))
        self.table.writerows([name] + [float(f"{v:.7g}") for v in row] for name, row in zip(batch.names, values))

    def _file_name(self, name):
        base = os.path.splitext(os.path.basename(str(name)))[0]
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._") or "input"
        candidate, n = f"{stem}.png", 1
        while candidate in self.used:
            n += 1
            candidate = f"{stem}-{n}.png"
        self.used.add(candidate)
        return candidate

    def close(self):
        if self.table is not None:
            self.table_file.close()
