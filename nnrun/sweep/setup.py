"""Everything a new sweep checks before it writes anything: the config (with its --set overrides)
and its sweep section, the parameters against the config, the dataset against the network (the
same check `nnrun train` makes), and the metric the trials are judged by."""
import datetime
import os
from pathlib import Path

from nnrun.config.read import apply_overrides
from nnrun.errors import UserError
from nnrun.sweep.section import sweep_section
from nnrun.sweep.space import check_parameters, grid_size, grid_space, override_text

# Metrics that need a positive class (a two-class task, or train.metric.positive).
POSITIVE_METRICS = ("f-beta", "precision", "recall", "average-precision")


# Swept keys whose choices name files: a dataset folder (or a data map with its path), a checkpoint.
PATH_PARAMETERS = ("data", "data.path", "train.init-from")


def _absolute(value):
    if isinstance(value, str):  # as written, links kept: two links to one folder stay two choices
        return os.path.abspath(os.path.expanduser(value))
    if isinstance(value, dict) and isinstance(value.get("path"), str):
        return {**value, "path": _absolute(value["path"])}
    return value


def _absolute_paths(raw, spec):
    """The dataset and init-from paths made absolute, the config's and those a sweep chooses
    from alike, so a resumed sweep (or a trial) started from another folder reads the same files."""
    sets = []
    if spec.data.get("path"):
        sets.append(override_text("data", str(Path(spec.data["path"]).expanduser().resolve())))
    if spec.train.get("init-from"):
        sets.append(override_text("train.init-from", str(Path(spec.train["init-from"]).expanduser().resolve())))
    out = apply_overrides(raw, sets)
    parameters = (out.get("sweep") or {}).get("parameters") or {}
    for path in PATH_PARAMETERS:
        given = parameters.get(path)
        if isinstance(given, dict) and isinstance(given.get("choice"), list):
            parameters[path] = {"choice": [_absolute(value) for value in given["choice"]]}
    return out


def checked_task(spec, source):
    """The config's task on its dataset: the check `nnrun train` makes before a run starts."""
    from nnrun.data.dataset import open_dataset
    from nnrun.train.session import dataset_path
    from nnrun.train.task import make_task

    try:
        return make_task(spec, open_dataset(dataset_path(spec)))
    except UserError as mistake:
        message = str(mistake)
        raise UserError(message if message.startswith(f"{source}:") else f"{source}: {message}") from None


def recheck(info, where):
    """A resumed sweep's config against its dataset again (it may have moved or changed since)."""
    from nnrun.config.spec import spec_from_data

    checked_task(spec_from_data(info["config"], source=where, default_name=info["name"]), where)


def judged_by(settings, spec, source):
    """(metric, direction) of the sweep; checks the config against its dataset on the way."""
    task = checked_task(spec, source)
    metric = task.metric if settings["metric"] == "auto" else settings["metric"]
    if metric in POSITIVE_METRICS and task.positive is None:
        raise UserError(f"{source}: sweep.metric: {metric} needs a positive class (a two-class task, or "
                        f"train.metric.positive); this task has {len(task.classes)} classes")
    if task.autoencoder and metric != "loss":
        raise UserError(f"{source}: sweep.metric: {metric} needs labels; this network reconstructs its input "
                        f"(use loss)")
    direction = settings["direction"]
    if direction == "auto":
        direction = "minimize" if metric == "loss" else "maximize"
    return metric, direction


def new_sweep_info(config, overrides, trials=None):
    """sweep.json's content for a new sweep of CONFIG (storage and study are added by the caller)."""
    from nnrun.config.spec import load_spec

    spec = load_spec(config, overrides)  # the whole config, the sweep section's shape included
    raw = spec.raw
    if raw.get("sweep") is None:
        raise UserError(f"{config}: no sweep section: say which keys to vary and over what "
                        "(sweep: {parameters: {train.batch-size: {choice: [64, 128]}}}; see docs/sweep.md)")
    check_parameters(sweep_section(raw["sweep"])["parameters"], raw, config)  # values as the user wrote them
    raw = _absolute_paths(raw, spec)
    try:
        settings = sweep_section(raw["sweep"])
    except UserError as mistake:  # two choices that name one file (fraud and ./fraud)
        raise UserError(f"{config}: {mistake}") from None
    if settings["sampler"] == "grid":
        size = grid_size(grid_space(settings["parameters"], config))
    else:
        size = None
    metric, direction = judged_by(settings, spec, config)
    count = trials if trials is not None else settings["trials"]
    if size is not None and count > size:
        count = size  # a grid has no more points; more trials would only repeat them
    settings = {**settings, "seed": settings["seed"] if settings["seed"] is not None else spec.train["seed"]}
    del settings["parameters"]
    return {"name": spec.name, "source": str(Path(config).resolve()), "overrides": list(overrides),
            "config": raw, "settings": settings, "metric": metric, "direction": direction, "trials": count,
            "grid-size": size,
            "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
