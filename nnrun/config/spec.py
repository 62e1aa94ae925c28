"""A config file -> a validated Spec: the network plan plus the data and train sections."""
from dataclasses import dataclass
from pathlib import Path

from nnrun.config.read import apply_overrides, read_config_file
from nnrun.config.schema import Field, text, validate_map
from nnrun.config.sections import data_section, train_section
from nnrun.errors import UserError
from nnrun.network.plan import plan_network
from nnrun.sweep.section import sweep_section

TOP_LEVEL = {
    "network": Field(lambda v, p: v, None, "the layers, in order"),
    "data": Field(data_section, {}, "the prepared dataset (a folder, or a map with path and splits)"),
    "train": Field(train_section, {}, "optimizer, batch size, epochs, sampling, metric, ..."),
    "name": Field(text(null=True), None, "the run's name (default: the config file's name)"),
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

    def resolved(self):
        """The config with every default filled in, as plain data."""
        out = {"name": self.name, "network": self.plan.description, "data": self.data, "train": self.train}
        if self.raw.get("description"):
            out["description"] = self.raw["description"]
        return out


def load_spec(path, overrides=()):
    """Read, override, and validate a config file; raise UserError on any mistake."""
    raw = apply_overrides(read_config_file(path), overrides)
    try:
        return spec_from_data(raw, source=str(path), default_name=Path(path).stem)
    except UserError as mistake:
        raise UserError(f"{mistake}{_from_override(mistake, path, overrides)}") from None


def _from_override(mistake, path, overrides):
    """' (from --set K=V)' when the mistake is in a value an override gave."""
    for text in overrides or ():
        key = text.partition("=")[0].strip()
        if str(mistake).startswith(f"{path}: {key}:"):
            return f" (from --set {text})"
    return ""


def spec_from_data(raw, source="config", default_name="config"):
    """Validate plain config data; a mistake reads `SOURCE: place: problem`."""
    try:
        sections = validate_map(raw, TOP_LEVEL, "")
        if raw.get("network") is None:
            raise UserError("no network section (the layers, in order)")
        plan = plan_network(raw["network"])
    except UserError as mistake:
        raise UserError(f"{source}: {mistake}") from None
    return Spec(sections["name"] or default_name, source, plan, sections["data"], sections["train"], raw)
