"""A last.nnrun's resume state, checked field by field before any of it is used.

`nnrun train --resume` hands the optimizer, sampler, schedule and random-number states in the
file to torch and numpy, which trust what they are given: a state tensor of another shape makes
the fused optimizer step read past its memory (a crash, not an exception), a sampler order naming
examples the split lacks never ends, a text where a learning rate belongs fails only after the
run folder was rewritten. The checksum says only that the bytes are the ones written - by anyone -
so the state is checked like a config: its structure here, before the session is made, and what
needs the live objects (the optimizer's tensors against the network's parameters) right after
loading it, still before anything is written. A bad file is one line naming the field.
"""
import json
import math

import numpy as np

from nnrun.errors import UserError
from nnrun.stored_values import is_integer, is_number, kind as kind_of, shown

MT19937_KEYS = 624                    # numpy's legacy generator: 624 words of state and a position
OPTIONAL_MAPS = ("schedule", "scaler", "training-weights", "mixer")


def check_resume_payload(payload, path):
    """UserError naming `path` and the field, unless the resume state's structure is sound."""
    def fail(field, problem):
        raise UserError(f"{path}: {field}: {problem}")

    import torch

    tensors = payload.get("tensors")
    if not isinstance(tensors, dict) or not all(isinstance(v, torch.Tensor) for v in tensors.values()):
        fail("tensors", f"must be a map of weight names to tensors, got {shown(tensors)}")
    for name, tensor in tensors.items():  # NaN weights would only train into NaN losses
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            fail(f"tensors.{name}", "holds values that are not finite")
    if not isinstance(payload.get("config"), dict):
        fail("config", f"must be a map (the run's config), got {kind_of(payload.get('config'))}")
    state = payload.get("resume")
    if not isinstance(state, dict):
        fail("resume", f"must be a map, got {kind_of(state)}")
    epoch = state.get("epoch")
    if not (is_integer(epoch) and epoch >= 1):  # a last.nnrun is written after a finished epoch
        fail("resume.epoch", f"must be a whole number ≥ 1, got {shown(epoch)}")
    optimizer = state.get("optimizer")
    if not isinstance(optimizer, dict) or not isinstance(optimizer.get("state"), dict) \
            or not isinstance(optimizer.get("param_groups"), list) \
            or not all(isinstance(group, dict) for group in optimizer["param_groups"]):
        fail("resume.optimizer", f"must be an optimizer's state (a map of state and param_groups), "
                                 f"got {shown(optimizer)}")
    if payload.get("dataset") is not None and not isinstance(payload["dataset"], dict):
        fail("dataset", f"must be a map, got {kind_of(payload['dataset'])}")
    for key in OPTIONAL_MAPS:
        if state.get(key) is not None and not isinstance(state[key], dict):
            fail(f"resume.{key}", f"must be a map or nothing, got {kind_of(state[key])}")
    for key in ("sampler", "augmenter"):
        if not isinstance(state.get(key), dict):
            fail(f"resume.{key}", f"must be a map, got {kind_of(state.get(key))}")
    _check_rng(state.get("rng"), fail)
    _check_best(state.get("best"), epoch, fail)
    since = state.get("since-best")
    if not (is_integer(since) and 0 <= since <= epoch):
        fail("resume.since-best", f"must be a whole number from 0 to the epoch ({epoch}), got {shown(since)}")
    size = state.get("world-size", 1)
    if not (is_integer(size) and size >= 1):
        fail("resume.world-size", f"must be a whole number ≥ 1, got {shown(size)}")
    record = state.get("record")
    if record is not None:  # the epoch's metrics.jsonl line, written back after a kill
        if not isinstance(record, dict) or not (is_integer(record.get("epoch")) and record["epoch"] == epoch):
            fail("resume.record", f"must be epoch {epoch}'s metrics (a map with its epoch), got {shown(record)}")
        try:
            json.dumps(record, allow_nan=True)
        except (TypeError, ValueError) as problem:
            fail("resume.record", f"is not a line of metrics ({problem})")


def _check_rng(rng, fail):
    import torch

    if not isinstance(rng, dict):
        fail("resume.rng", f"must be a map, got {kind_of(rng)}")
    if not isinstance(rng.get("torch"), torch.Tensor):
        fail("resume.rng.torch", f"must be the torch generator's state (a tensor), got {shown(rng.get('torch'))}")
    cuda = rng.get("cuda")
    if cuda is not None and not (isinstance(cuda, list) and all(isinstance(s, torch.Tensor) for s in cuda)):
        fail("resume.rng.cuda", f"must be a list of generator states, got {shown(cuda)}")
    state = rng.get("numpy")
    if state is None:
        return
    if not isinstance(state, dict) or state.get("name") != "MT19937":
        fail("resume.rng.numpy", f"must be numpy's MT19937 state, got {shown(state)}")
    keys = state.get("keys")
    if not (isinstance(keys, np.ndarray) and keys.shape == (MT19937_KEYS,) and keys.dtype.kind in ("u", "i")):
        fail("resume.rng.numpy.keys", f"must be {MT19937_KEYS} whole numbers, got {shown(keys)}")
    position = state.get("pos")
    # numpy takes any position and reads its state past the end with one beyond 624
    if not (is_integer(position) and 0 <= position <= MT19937_KEYS):
        fail("resume.rng.numpy.pos", f"must be a whole number from 0 to {MT19937_KEYS}, got {shown(position)}")
    gauss, cached = state.get("has-gauss"), state.get("cached")
    if not (is_integer(gauss) and gauss in (0, 1) and is_number(cached)):
        fail("resume.rng.numpy", "has-gauss must be 0 or 1 and cached a finite number")


def _check_best(best, epoch, fail):
    if not isinstance(best, dict):
        fail("resume.best", f"must be a map, got {kind_of(best)}")
    unknown = set(best) - {"score", "epoch", "threshold"}
    if unknown:
        fail("resume.best", f"unknown key {shown(sorted(map(str, unknown))[0])}")
    score, at, threshold = best.get("score"), best.get("epoch"), best.get("threshold")
    # NaN would lose every comparison: no epoch would be the best again (an infinite loss makes -inf)
    if score is not None and not (isinstance(score, (int, float)) and not isinstance(score, bool)
                                  and not math.isnan(score)):
        fail("resume.best.score", f"must be a number or nothing, got {shown(score)}")
    if at is not None and not (is_integer(at) and 1 <= at <= epoch):
        fail("resume.best.epoch", f"must be an epoch from 1 to {epoch}, got {shown(at)}")
    if (score is None) != (at is None):
        fail("resume.best", "has a score without its epoch, or an epoch without its score")
    if threshold is not None and not (is_number(threshold) and 0 <= threshold <= 1):
        fail("resume.best.threshold", f"must be a number from 0 to 1 or nothing, got {shown(threshold)}")


# How torch computes an update, not what it computes: this run's own choice (nnrun.train.optimizers)
IMPLEMENTATION = ("foreach", "fused", "capturable", "differentiable")


def load_optimizer_state(optimizer, state, fail):
    """`optimizer.load_state_dict(state)`, then checked. The loaded groups replace the fresh ones
    whole, and the fresh ones were made from the same config (a resume may not change the
    optimizer), so each setting must be the fresh one's, but the learning rate, which schedules
    move (a finite number ≥ 0); how torch computes is taken from the fresh groups. Every state
    tensor must be finite and shaped like its parameter (a step count is one number). What torch
    would trip over only at the first step (or crash on, in a fused kernel) is refused here,
    before anything is written. `fail(field, problem)` raises."""

    fresh_groups = [{k: v for k, v in group.items() if k != "params"} for group in optimizer.param_groups]
    saved_states = state.get("state") if isinstance(state, dict) else None
    for key, saved in (saved_states.items() if isinstance(saved_states, dict) else ()):
        if not isinstance(saved, dict):  # torch's load_state_dict would index it as one
            fail(f"resume.optimizer.state[{key}]", f"must be a map, got {kind_of(saved)}")
    optimizer.load_state_dict(state)
    for index, (group, fresh) in enumerate(zip(optimizer.param_groups, fresh_groups)):
        for key, made in fresh.items():
            where = f"resume.optimizer.param_groups[{index}].{key}"
            if key in IMPLEMENTATION:
                group[key] = made
            elif key not in group:
                fail(where, "is missing")
            elif key == "lr":
                if not (is_number(group[key]) and group[key] >= 0):
                    fail(where, f"must be a finite number ≥ 0, got {shown(group[key])}")
            elif not _same(group[key], made):
                fail(where, f"is {shown(group[key])}, but the run's config makes it {shown(made)}")
    index = 0
    for group in optimizer.param_groups:
        expected = _reference_state(optimizer, group)
        for parameter in group["params"]:
            saved, where = optimizer.state.get(parameter), f"resume.optimizer.state[{index}]"
            if saved:  # (a parameter no step has reached yet has none)
                _check_parameter_state(saved, expected, parameter, where, fail)
            index += 1


def _reference_state(optimizer, group):
    """{key: what one step leaves there} for this optimizer and group's settings, from one step
    on a probe of two values: None, a step count (one number) or a tensor shaped like the
    parameter (the probe's two values)."""
    import torch

    probe = torch.zeros(2, requires_grad=True)
    probe.grad = torch.ones(2)
    reference = type(optimizer)([probe], **{k: group[k] for k in optimizer.defaults if k in group})
    reference.step()
    return dict(reference.state[probe])


def _check_parameter_state(saved, expected, parameter, where, fail):
    import torch

    if set(saved) != set(expected):
        fail(where, f"holds {shown(sorted(map(str, saved)))}; this optimizer keeps {shown(sorted(expected))}")
    for key, made in expected.items():
        value, field = saved[key], f"{where}.{key}"
        if made is None:
            if value is not None:
                fail(field, f"must be nothing (this optimizer keeps none), got {shown(value)}")
            continue
        if is_number(value) and made.numel() == 1:  # a step count as a plain number
            continue
        if not isinstance(value, torch.Tensor) or not value.is_floating_point():
            fail(field, f"must be a tensor of numbers, got {shown(value)}")
        if made.shape == (2,) and value.shape != parameter.shape:
            fail(field, f"has shape {list(value.shape)}, but its parameter has {list(parameter.shape)}")
        if made.shape != (2,) and value.numel() != 1:
            fail(field, f"must be one number, got {value.numel():,} of them")
        if not bool(torch.isfinite(value).all()):
            fail(field, "holds values that are not finite")


def load_schedule_state(schedule, state, fail):
    """`schedule.load_state_dict(state)` after checking the state against the fresh schedule's:
    torch's schedulers take any map (they update their attributes with it) and fail at the end
    of the next epoch. The same keys, values of the same kinds, the same modes (texts)."""
    _same_layout(state, schedule.state_dict(), "resume.schedule", fail)
    schedule.load_state_dict(state)


def _same_layout(value, made, where, fail):
    if isinstance(made, dict):
        if not isinstance(value, dict) or set(value) != set(made):
            fail(where, f"must be a map of {shown(sorted(map(str, made)))}, got {shown(value)}")
        for key in made:
            _same_layout(value[key], made[key], f"{where}.{key}", fail)
    elif isinstance(made, (list, tuple)):
        if not isinstance(value, (list, tuple)) or len(value) != len(made):
            fail(where, f"must be a list of {len(made)}, got {shown(value)}")
        for i, (item, fresh) in enumerate(zip(value, made)):
            _same_layout(item, fresh, f"{where}[{i}]", fail)
    elif isinstance(made, bool) or made is None:
        if not (value is made or isinstance(value, bool) and isinstance(made, bool)):
            fail(where, f"must be {shown(made) if made is None else 'true or false'}, got {shown(value)}")
    elif is_integer(made):
        if not is_integer(value):
            fail(where, f"must be a whole number, got {shown(value)}")
    elif isinstance(made, float):  # -inf is a fresh plateau's best score; NaN is never meant
        if not (isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)):
            fail(where, f"must be a number, got {shown(value)}")
    elif isinstance(made, str):
        if value != made:
            fail(where, f"is {shown(value)}, but the run's config makes it {shown(made)}")
    elif not isinstance(value, type(made)):
        fail(where, f"must be a {type(made).__name__}, got {shown(value)}")


def _same(value, made):
    """Whether a loaded setting is the fresh optimizer's (a tuple comes back from a file as a list)."""
    if isinstance(made, (tuple, list)):
        return isinstance(value, (tuple, list)) and len(value) == len(made) and all(map(_same, value, made))
    if isinstance(made, bool) or made is None or isinstance(value, bool):
        return value is made
    return type(value) in (int, float) and value == made
