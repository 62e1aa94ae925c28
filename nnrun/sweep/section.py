"""The `sweep:` section of a config, checked on its own (what it means for the rest of the config
is nnrun.sweep.space's business):

    sweep:
      trials: 40                  # how many trials the study runs
      metric: auto                # the config's selection metric (train.metric), on the selection split
      direction: auto             # maximize f-beta/accuracy/..., minimize loss
      sampler: tpe                # tpe | random | grid
      seed: null                  # the sampler's seed (null: train.seed)
      pruner: median              # median | none, or {type: median, startup-trials: 5, warmup-epochs: 0}
      parameters:                 # keyed by the dotted paths `--set` takes
        train.optimizer.learning-rate: {log-uniform: [1.0e-4, 1.0e-2]}
        train.batch-size: {choice: [64, 128, 256]}
        network.2.dropout: {uniform: [0.5, 1.0]}

Kinds of parameter: choice (a list of values: numbers, text, maps), uniform and log-uniform (two
numbers, low < high), int and log-int (two whole numbers, low < high). Every mistake is a UserError
naming its key (`sweep.parameters.train.batch-size: ...`).
"""
import json
import numbers

from nnrun.config.schema import Field, integer, one_of, section, validate_map
from nnrun.errors import UserError, did_you_mean

# The metrics a trial can be judged by: the selection split's figures at the trial's best epoch.
METRICS = ("f-beta", "accuracy", "loss", "average-precision", "precision", "recall")
KINDS = ("choice", "uniform", "log-uniform", "int", "log-int")
RANGES = {"uniform": float, "log-uniform": float, "int": int, "log-int": int}

PRUNER_FIELDS = {
    "type": Field(one_of("median", "none"), "median",
                  "median: stop a trial whose epoch metric is worse than the median of earlier trials "
                  "at the same epoch; none: every trial runs all its epochs"),
    "startup-trials": Field(integer(0), 5, "trials that finish before any is pruned"),
    "warmup-epochs": Field(integer(0), 0, "epochs of each trial that are never pruned"),
}


def _direction(value, path):
    spelt = {"maximise": "maximize", "minimise": "minimize"}.get(value, value)
    return one_of("auto", "maximize", "minimize")(spelt, path)


SWEEP_FIELDS = {
    "trials": Field(integer(1, 100_000), 20, "how many trials the study runs (every machine sharing it counted)"),
    "metric": Field(one_of("auto", *METRICS), "auto",
                    "what judges a trial, at its best epoch: auto = the config's train.metric"),
    "direction": Field(_direction, "auto", "auto: minimize loss, maximize anything else"),
    "sampler": Field(one_of("tpe", "random", "grid"), "tpe", "how the next trial's parameters are chosen"),
    "seed": Field(integer(0, 2**32 - 1, null=True), None, "the sampler's seed (null: train.seed)"),
    "pruner": Field(section(PRUNER_FIELDS, shorthand=lambda v, p: {"type": v}), "median",
                    "stops poor trials early on their epoch metrics"),
    "parameters": Field(lambda v, p: v, None, "dotted config path -> {choice|uniform|log-uniform|int|log-int: ...}"),
}


def sweep_section(value, path="sweep"):
    """The section with defaults filled in and each parameter as {"kind", "values"} or
    {"kind", "low", "high"}; UserError naming the key for any mistake."""
    resolved = validate_map(value, SWEEP_FIELDS, path)
    raw = resolved["parameters"]
    where = f"{path}.parameters"
    if raw is None or raw == {}:
        raise UserError(f"{where}: give at least one parameter to vary, e.g. "
                        "train.batch-size: {choice: [64, 128]}")
    if not isinstance(raw, dict):
        raise UserError(f"{where}: must be a map of dotted config paths to ranges, got {type(raw).__name__}")
    resolved["parameters"] = {_path_text(key, where): parameter(item, f"{where}.{key}")
                              for key, item in raw.items()}
    return resolved


def _path_text(key, where):
    if not isinstance(key, str) or not key.strip() or any(not part for part in key.split(".")):
        raise UserError(f"{where}: {key!r} is not a dotted config path like train.batch-size")
    return key


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def parameter(value, path):
    """One parameter's range: {kind: ...} -> {"kind": kind, ...}."""
    if not isinstance(value, dict) or len(value) != 1:
        raise UserError(f"{path}: must be one of {{choice: [...]}}, {{uniform: [low, high]}}, "
                        f"{{log-uniform: [low, high]}}, {{int: [low, high]}}, {{log-int: [low, high]}}; got {value!r}")
    kind, given = next(iter(value.items()))
    if kind not in KINDS:
        raise UserError(f'{path}: unknown kind "{kind}" (kinds: {", ".join(KINDS)}){did_you_mean(kind, KINDS)}')
    where = f"{path}.{kind}"
    if kind == "choice":
        if not isinstance(given, list) or not given:
            raise UserError(f"{where}: must be a non-empty list of values, got {given!r}")
        seen = set()
        for item in given:
            key = json.dumps(item, sort_keys=True, default=str)
            if key in seen:
                raise UserError(f"{where}: {item!r} is given twice")
            seen.add(key)
        return {"kind": kind, "values": list(given)}
    if not isinstance(given, list) or len(given) != 2:
        raise UserError(f"{where}: must be [low, high], got {given!r}")
    low, high = given
    whole = RANGES[kind] is int
    for end in (low, high):
        if not _is_number(end) or (whole and not (isinstance(end, int) or float(end).is_integer())):
            raise UserError(f"{where}: low and high must be {'whole numbers' if whole else 'numbers'}, got {end!r}")
        if end != end or end in (float("inf"), float("-inf")):
            raise UserError(f"{where}: low and high must be finite, got {end}")
    low, high = RANGES[kind](low), RANGES[kind](high)
    if not low < high:
        raise UserError(f"{where}: the range [{low}, {high}] is empty (low must be below high)")
    if kind.startswith("log-") and low <= 0:
        raise UserError(f"{where}: a log range must start above 0, got {low}")
    return {"kind": kind, "low": low, "high": high}
