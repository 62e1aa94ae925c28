"""Opening the checkpoints and starting the inputs, in the order that is fastest.

Image inputs first: what the first checkpoint takes (its image size and channels, read without
its weights) is enough to check them and fork the decoding workers, which then decode while
this process reads the checkpoints and builds the network(s). After that, one of two cases.

Lean (every checkpoint runs on the numpy engine, without torch): the weights were read straight
into memory shared with the workers, and the network is handed over to them (handoff.py), so
each worker decodes and predicts its own chunks from then on. Torch: the workers go on decoding
while this process imports torch (about 2 s on a small machine) and runs the network on batches
of what they decoded.
"""
import os
from dataclasses import dataclass

from nnrun.infer.handoff import Handoff
from nnrun.infer.model import open_lean_model, open_model, peek_inputs, wants_numpy


@dataclass
class PredictOptions:
    """What `infer` and `kaggle-submit` both take (each command's options add their own)."""
    threshold: float = None
    positive: str = None
    split: str = None
    id_column: str = None
    batch_size: int = 256
    device: str = "auto"
    engine: str = "auto"
    jobs: int = None
    skip_bad: bool = False
    quiet: bool = False


def open_and_start(paths, sources, options, *, work_of, keep_pixels=True):
    """(the opened models, work_of(models)), with every source checked against the models and
    started. options: PredictOptions (device, engine, jobs).

    work_of(models) -> what to compute on each batch: an object with `runs` (model.Run list)
    and `from_outputs(outputs of those runs)` (a Model, or a predict.Ensemble); with the numpy
    engine, image batches then come with `outputs` set to what from_outputs gave.
    keep_pixels=False: such batches need not carry their pixels (`x` may be None)."""
    device, engine, jobs = options.device, options.engine, options.jobs
    images = [s for s in sources if s.kind == "images" and hasattr(s, "start")]
    handoff = Handoff(_total_size(paths)) if images and wants_numpy(device, engine) else None
    spec = peek_inputs(paths[0]) if images else None
    if spec is not None:
        _check(sources, [spec])
        _start(images, spec, jobs, handoff, keep_pixels)
    allocate = handoff.allocate if handoff is not None else None
    lean = [open_lean_model(p, device=device, engine=engine, allocate=allocate) for p in paths]
    if all(lean):
        _check(sources, lean)
        work = work_of(lean)
        handed_off = handoff is not None and handoff.publish(work.runs)
        _start(images, lean[0], jobs, handoff, keep_pixels)
        for source in images:
            source.use(work, handed_off)
        return lean, work
    models = [model or open_model(p, device=device, engine=engine) for p, model in zip(paths, lean)]
    _check(sources, models)
    _start(images, models[0], jobs, None, keep_pixels)
    return models, work_of(models)


def _total_size(paths):
    """Bytes of the checkpoint files: room enough for their arrays (a missing file: 0 here,
    an error when it is opened)."""
    total = 0
    for path in paths:
        try:
            total += os.path.getsize(path)
        except OSError:
            pass
    return total


def _check(sources, specs):
    for source in sources:
        for spec in specs:
            source.check(spec)


def _start(sources, spec, jobs, handoff, keep_pixels):
    for source in sources:
        if not source.started:
            size, channels = spec.image_spec
            source.start(size, channels, jobs, handoff=handoff, keep_pixels=keep_pixels)
