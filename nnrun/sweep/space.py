"""The sweep's parameters against the config they vary.

    check_parameters(parameters, raw, source)  every path names a value of the config, every value
                                               a parameter can take passes that key's own check
    sample(trial, parameters)                  an Optuna trial's values, as config values
    trial_config(raw, values)                  the config with a trial's values set (plain data)
    grid_space(parameters)                     the grid sampler's search space

A value is set exactly as `--set PATH=VALUE` sets it (nnrun.config.read.apply_overrides), so a
sweep key means what the same --set means. The upfront check takes each value on its own: a
value that only fails together with another one (sgd with beta1, say, or a kernel that no longer
fits after a smaller input) is found when a trial samples it, and that trial fails with its
one-line reason while the sweep goes on.
"""
import copy
import json
from pathlib import Path

import yaml

from nnrun.config.read import apply_overrides
from nnrun.errors import UserError, did_you_mean

VARIED = ("network", "data", "train")
GRID_LIMIT = 10_000  # int ranges the grid sampler expands into every value


def parts(path):
    return [int(p) if p.isdigit() else p for p in path.split(".")]


def override_text(path, value):
    """`path=value` for apply_overrides; YAML round-trips every plain value (1e-05 stays a float)."""
    return f"{path}={yaml.safe_dump(value, default_flow_style=True, width=2**30)}"


def set_values(raw, values):
    """A copy of the config data `raw` with each {path: value} set as --set would set it."""
    out = copy.deepcopy(raw)
    out.pop("sweep", None)  # a trial is an ordinary run: its config has no sweep
    return apply_overrides(out, [override_text(path, value) for path, value in values.items()])


def _lookup(node, keys):
    """(found, value) of `keys` inside plain data."""
    for key in keys:
        if isinstance(node, list) and isinstance(key, int) and key < len(node):
            node = node[key]
        elif isinstance(node, dict) and key in node:
            node = node[key]
        else:
            return False, node
    return True, node


def _resolved(raw, source):
    """The config's data and train sections with every default filled in (no network planning)."""
    from nnrun.config.schema import validate_map
    from nnrun.config.spec import TOP_LEVEL

    try:
        return validate_map(raw, TOP_LEVEL, "")
    except UserError as mistake:
        raise UserError(f"{source}: {mistake}") from None


def check_parameters(parameters, raw, source):
    """UserError (`SOURCE: sweep.parameters.PATH: ...`) unless every parameter fits the config."""
    from nnrun.config.schema import validate_map
    from nnrun.config.spec import TOP_LEVEL

    resolved = _resolved(raw, source)
    for path, spec in parameters.items():
        where = f"{source}: sweep.parameters.{path}"
        keys = parts(path)
        if keys[0] not in VARIED:
            raise UserError(f"{where}: a sweep varies network, data or train keys, not {keys[0]!r}")
        found, existing = _lookup(raw, keys)
        if not found:
            found, existing = _lookup(resolved, keys)
        if not found:
            near = _lookup(raw, keys[:-1])[1]
            hint = did_you_mean(keys[-1], near) if isinstance(near, dict) else ""
            raise UserError(f"{where}: no such key in the config{hint}")
        for value in test_values(spec):
            if keys[0] == "network":
                _same_kind(where, spec["kind"], value, existing)
            try:
                trial = set_values(raw, {path: value})
                sections = validate_map(trial, TOP_LEVEL, "")
                _fits_on_its_own(keys, trial, sections, resolved)
            except UserError as mistake:
                raise UserError(f"{where}: {spec['kind']} value {value!r} does not fit: {mistake}") from None


def _fits_on_its_own(keys, trial, sections, base):
    """What a value can be wrong about by itself, beyond its key's own rules: the arguments of
    the layer it changes, and the dataset it names. Shapes are left to the trials: a layer size
    that does not fit with the config's other values may fit with another swept one."""
    from nnrun.config.auto_input import auto_input_indices
    from nnrun.network.plan import check_layer

    if keys[0] == "network":
        network = trial.get("network")
        if not isinstance(network, list):
            raise UserError("network: must be a non-empty list of layers")
        auto = set(auto_input_indices(network))  # their width comes from the dataset, when a trial starts
        touched = [keys[1]] if len(keys) > 1 and isinstance(keys[1], int) else range(len(network))
        for index in touched:
            if index not in auto:
                check_layer(network[index], index)
    elif keys[0] == "data" and sections["data"]["path"] != base["data"]["path"]:
        from nnrun.data.dataset import open_dataset

        open_dataset(Path(sections["data"]["path"]).expanduser())


def test_values(spec):
    """What the upfront check tries: every choice, both ends of a range."""
    return spec["values"] if spec["kind"] == "choice" else [spec["low"], spec["high"]]


def _same_kind(where, kind, value, existing):
    """A network value keeps its kind (layer arguments are checked when a trial plans the network)."""
    def sort(v):
        if isinstance(v, bool) or v is None:
            return "true/false" if isinstance(v, bool) else "null"
        if isinstance(v, int):
            return "whole number"
        if isinstance(v, float):
            return "number"
        return {str: "text", dict: "map", list: "list"}.get(type(v), type(v).__name__)
    have, now = sort(value), sort(existing)
    if have != now and not (have == "whole number" and now == "number"):
        raise UserError(f"{where}: {kind} value {value!r} is a {have}, but the config holds a {now} "
                        f"({existing!r}) there" + (" (use int or log-int for whole numbers)"
                                                   if now == "whole number" and have == "number" else ""))


def shown(value):
    """A sampled value for a line or a table cell: 4 significant digits, maps and lists as JSON."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return json.dumps(value) if isinstance(value, (dict, list)) else str(value)


def encoded(value):
    """Optuna's categorical choices are plain scalars; a map or list choice travels as its JSON."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return json.dumps(value, sort_keys=True)


def sample(trial, parameters):
    """{path: config value} for an Optuna trial (ask-and-tell), in the section's order."""
    values = {}
    for path, spec in parameters.items():
        kind = spec["kind"]
        if kind == "choice":
            options = [encoded(v) for v in spec["values"]]
            picked = trial.suggest_categorical(path, options)
            values[path] = spec["values"][options.index(picked)]
        elif kind in ("uniform", "log-uniform"):
            values[path] = trial.suggest_float(path, spec["low"], spec["high"], log=kind == "log-uniform")
        else:
            values[path] = trial.suggest_int(path, spec["low"], spec["high"], log=kind == "log-int")
    return values


def decoded(parameters, params):
    """An Optuna trial's stored params -> {path: config value} (choices back from their JSON)."""
    values = {}
    for path, value in params.items():
        spec = parameters.get(path)
        if spec is not None and spec["kind"] == "choice":
            options = [encoded(v) for v in spec["values"]]
            value = spec["values"][options.index(value)] if value in options else value
        values[path] = value
    return values


def grid_space(parameters, source):
    """{path: [choices]} for the grid sampler; UserError for a continuous range."""
    space = {}
    for path, spec in parameters.items():
        if spec["kind"] == "choice":
            space[path] = [encoded(v) for v in spec["values"]]
        elif spec["kind"] == "int" and spec["high"] - spec["low"] < GRID_LIMIT:
            space[path] = list(range(spec["low"], spec["high"] + 1))
        elif spec["kind"] == "int":
            raise UserError(f"{source}: sweep.parameters.{path}: an int range of "
                            f"{spec['high'] - spec['low'] + 1:,} values is too many points for the grid "
                            f"sampler (at most {GRID_LIMIT:,}); narrow it, or use tpe or random")
        else:
            raise UserError(f"{source}: sweep.parameters.{path}: the grid sampler takes choice and int "
                            f"parameters (a continuous {spec['kind']} range has no grid points); use tpe or random")
    return space


def grid_size(space):
    size = 1
    for options in space.values():
        size *= len(options)
    return size
