"""Opening the checkpoints and starting the inputs, in the order that is fastest.

Lean case (every checkpoint runs on the numpy engine without torch): open them first (a
fraction of a second), then start the image workers with the network inside them, so each
core decodes and predicts its own chunks. Torch case: check the inputs against what the first
checkpoint says it takes (read without torch), start the decoding workers, and only then
import torch and build the network(s), so decoding overlaps the import (about 2 s).
"""
from nnrun.infer.model import open_lean_model, open_model, peek_inputs


def open_and_start(paths, sources, *, device, engine, jobs, work_of):
    """The opened models, with every source checked against them and started.

    work_of(models) -> a function of a chunk of stored images that the decoding workers run
    (only ever asked for when every model is on the numpy engine)."""
    lean = [open_lean_model(p, device=device, engine=engine) for p in paths]
    if all(lean):
        _check(sources, lean)
        _start(sources, lean[0], jobs, work_of(lean))
        return lean
    spec = peek_inputs(paths[0])
    if spec is not None:
        _check(sources, [spec])
        _start(sources, spec, jobs, None)
    models = [model or open_model(p, device=device, engine=engine) for p, model in zip(paths, lean)]
    _check(sources, models)
    _start(sources, models[0], jobs, None)
    return models


def _check(sources, specs):
    for source in sources:
        for spec in specs:
            source.check(spec)


def _start(sources, spec, jobs, work):
    for source in sources:
        if source.kind == "images" and hasattr(source, "start") and not source.started:
            size, channels = spec.image_spec
            source.start(size, channels, jobs, work)
