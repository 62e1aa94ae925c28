"""`nnrun kaggle-submit`: checkpoint(s) + test set -> a submission CSV, written atomically.

The test set's ids (file names), then the checkpoints opened, then the predictions. Every check
(ids unique, sample submission, kinds of input) happens before the first prediction, and the
file appears only when every row is there.
"""
from dataclasses import dataclass, field

from nnrun.atomic import refuse_overwriting
from nnrun.errors import UserError
from nnrun.progress import bar
from nnrun.data.files import sort_ids
from nnrun.infer.inputs import BadItems
from nnrun.infer.model import PredictOptions, open_models
from nnrun.infer.output import LONG
from nnrun.infer.predict import Decision, Work
from nnrun.infer.submission import Labeller, check_sample, open_test_set, read_sample, write_submission


@dataclass
class SubmitOptions(PredictOptions):
    out: str = "submission.csv"
    output: str = "class"            # class | probability (--predict)
    column: str = None               # label header [default: label]
    clip: tuple = None
    sample: str = None
    tta: str = None
    checkpoints: list = field(default_factory=list)   # more checkpoints: an ensemble


def run_submit(checkpoint, test, options, echo=print, warn=print):
    """Write the submission; returns (rows written, {class: count}, skipped)."""
    _check_options(options)
    paths = [checkpoint] + list(options.checkpoints)
    refuse_overwriting(options.out, [*paths, test, options.sample])
    testset = open_test_set(test, id_column=options.id_column, split=options.split)
    sample = read_sample(options.sample) if options.sample else None
    if sample is not None and testset.ids is not None:
        check_sample(sample, testset.ids, testset.where)
        testset.ids = list(sample.ids)  # rows in the sample's order
    source = testset.source
    models = open_models(paths, [source], options, warn)
    work = Work(models, options.tta)
    if models[0].is_autoencoder:
        raise UserError(f"{models[0].path} is an autoencoder: it reconstructs its input and gives no classes")
    decision = Decision.for_model(models[0], options.positive, options.threshold)
    labeller = Labeller.make(options.output, decision, options.clip)
    header = _header(testset, sample, labeller, options)  # a header that does not fit: say so now
    bad = BadItems(options.skip_bad)
    progress = bar(len(source) or None, "submission", options.quiet or 0 < len(source) < LONG, unit="item")
    cells, counts = {}, {c: 0 for c in decision.classes}
    try:
        for batch in source.batches(options.batch_size or source.default_batch, bad, work):
            p = batch.outputs["probabilities"]
            for name, row, chosen in zip(batch.names, labeller.cells(p), decision.decide(p)):
                if name in cells:
                    raise UserError(f'{testset.where}: id "{name}" is not unique; no submission written')
                cells[name] = row
                counts[decision.classes[chosen]] += 1
            progress.update(len(batch.names))
    finally:
        progress.close()
    if testset.ids is None:  # a CSV: the ids are known now
        testset.ids = sort_ids(cells)
        if sample is not None:
            check_sample(sample, testset.ids, testset.where)
            testset.ids = list(sample.ids)
    order = [i for i in testset.ids if i in cells]
    if not order:
        raise UserError(f"{testset.where}: nothing to predict (no items, or none readable); no submission written")
    if sample is not None and len(order) != len(sample.ids):
        missing = [i for i in sample.ids if i not in cells]
        raise UserError(f"{len(missing)} item(s) of {testset.where} could not be read ({', '.join(missing[:5])}), "
                        f"so the submission would miss ids that sample submission {sample.path} lists; "
                        f"no submission written")
    write_submission(options.out, header, ([i] + cells[i] for i in order))
    summary = ", ".join(f"{name} {n}" for name, n in counts.items())
    echo(f"wrote {len(order)} rows to {options.out} ({summary}); {labeller.describe()}")
    bad.report(warn, "item(s), not in the submission")
    for note in getattr(source, "notes", list)():  # table rows: values never seen in training
        warn(note)
    return len(order), counts, bad.skipped


def _check_options(options):
    if options.output not in ("class", "probability"):
        raise UserError(f"--predict {options.output}: choose class or probability")
    if options.clip is not None:
        if options.output != "probability":
            raise UserError("--clip is for --predict probability")
        low, high = options.clip
        if not 0.0 <= low < high <= 1.0:
            raise UserError(f"--clip {low} {high}: want 0 <= LOW < HIGH <= 1")


def _header(testset, sample, labeller, options):
    if sample is None:
        return [testset.id_header] + labeller.columns(options.column or "label")
    given = sample.header[1:]
    if labeller.per_class:
        if sorted(given) != sorted(labeller.decision.classes):
            raise UserError(f"{sample.path}: its columns {', '.join(given)} are not the checkpoint's classes "
                            f"({', '.join(labeller.decision.classes)})")
        labeller.order = [labeller.decision.classes.index(c) for c in given]  # the sample's column order
    elif len(given) != 1:
        raise UserError(f"{sample.path}: its header {','.join(sample.header)} does not fit a submission of one "
                        f"label column (--predict {labeller.output})")
    elif options.column is not None and options.column != given[0]:
        raise UserError(f"--column {options.column} differs from the sample submission's {given[0]}")
    return sample.header
