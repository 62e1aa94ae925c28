"""A config file -> a validated Spec: the network plan plus the data and train sections."""
from dataclasses import dataclass
from pathlib import Path

from nnrun.config.auto_input import auto_input_indices, dataset_facts, resolve_auto_inputs, unresolved_message
from nnrun.config.read import apply_overrides, read_config_file
from nnrun.config.schema import Field, text, validate_map
from nnrun.config.sections import data_section, train_section
from nnrun.errors import UserError
from nnrun.network.plan import plan_network
from nnrun.sweep.section import sweep_section

LONGEST_NAME = 200  # bytes as UTF-8; file systems take 255 in one folder name


def run_name(value, path):
    """The run's name, which names its folder under runs/ (runs/NAME/TIME): one plain folder
    name. A "/" or ".." would put the run anywhere on the disk, a NUL or a name too long for the
    file system would fail only when the folder is made."""
    name = text(null=True)(value, path)
    if name is None:
        return None
    if not name.strip():
        problem = "must not be empty"
    elif "/" in name or "\\" in name or name in (".", ".."):
        problem = "names the run's folder in runs/, so it cannot hold / or \\ or be . or .."
    elif not name.isprintable():
        problem = "must not hold control characters"
    elif len(name.encode("utf-8", "surrogatepass")) > LONGEST_NAME:
        problem = f"names a folder, so it must be at most {LONGEST_NAME} bytes long"
    else:
        return name
    raise UserError(f"{path}: {problem}, got {name[:80]!r}" + ("..." if len(name) > 80 else ""))


TOP_LEVEL = {
    "network": Field(lambda v, p: v, None, "the layers, in order"),
    "data": Field(data_section, {}, "the prepared dataset (a folder, or a map with path and splits)"),
    "train": Field(train_section, {}, "optimizer, batch size, epochs, sampling, metric, ..."),
    "name": Field(run_name, None, "the run's name (default: the config file's name)"),
    "description": Field(text(null=True), None, "free text"),
    # read by `nnrun sweep` (its paths are checked against the rest there); a run ignores it
    "sweep": Field(sweep_section, None, "a hyperparameter search: trials, metric, sampler, parameters"),
}


@dataclass
class Spec:
    name: str
    source: str
    plan: object            # nnrun.network.plan.Plan
    data: dict
    train: dict
    raw: dict               # the config as read, overrides applied (what a run folder records)
    unresolved: object = None  # why `plan` is None (an input of width auto, no dataset), or None

    def resolved(self):
        """The config with every default filled in, as plain data."""
        out = {"name": self.name, "network": self.plan.description, "data": self.data, "train": self.train}
        if self.raw.get("description"):
            out["description"] = self.raw["description"]
        return out


def load_spec(path, overrides=(), unresolved_ok=False):
    """Read, override, and validate a config file; raise UserError on any mistake.
    `unresolved_ok`: an input of width auto with no dataset at hand leaves `plan` None (and
    `unresolved` says why) instead of raising: `nnrun check` shows what it can."""
    raw = apply_overrides(read_config_file(path), overrides)
    try:
        return spec_from_data(raw, source=str(path), default_name=Path(path).stem, unresolved_ok=unresolved_ok)
    except UserError as mistake:
        raise UserError(f"{mistake}{_from_override(mistake, path, overrides)}") from None


def _from_override(mistake, path, overrides):
    """' (from --set K=V)' when the mistake is in a value an override gave."""
    for text in overrides or ():
        key, _, value = (part.strip() for part in text.partition("="))
        if str(mistake).startswith(f"{path}: {key}:"):
            return f" (from --set {text})"
        if str(mistake).startswith(f"{path}: {key}.") and not value.startswith(("{", "[")):
            # a plain value given to a map changes its main key and keeps the others
            inner = str(mistake)[len(f"{path}: "):].partition(":")[0]
            return (f" (from --set {text}, which keeps the map's other keys: drop this one with "
                    f"--set {inner}=null, or replace the whole map with --set '{key}={{...}}')")
    return ""


def spec_from_data(raw, source="config", default_name="config", unresolved_ok=False):
    """Validate plain config data; a mistake reads `SOURCE: place: problem`."""
    unresolved = None
    try:
        sections = validate_map(raw, TOP_LEVEL, "")
        if raw.get("network") is None:
            raise UserError("no network section (the layers, in order)")
        network = raw["network"]
        if auto_input_indices(network):
            facts = dataset_facts(sections["data"]["path"])
            if facts is not None:
                network = resolve_auto_inputs(network, facts, source)
            elif unresolved_ok:
                unresolved = unresolved_message(network, sections["data"]["path"])
            else:
                raise UserError(unresolved_message(network, sections["data"]["path"]))
        plan = plan_network(network) if unresolved is None else None
    except UserError as mistake:
        raise UserError(f"{source}: {mistake}") from None
    spec = Spec(sections["name"] or default_name, source, plan, sections["data"], sections["train"], raw)
    spec.unresolved = unresolved
    return spec
