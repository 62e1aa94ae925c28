"""`input: {width: auto}` (or no width at all): the input's shape taken from the prepared dataset.

One config then fits any table: the width is the dataset's feature count, or for images its
size × size × channels. It is resolved when the spec is loaded with a dataset at hand, and the
network description is rewritten with the numbers, so the run's config.yaml and its checkpoints
record the width that trained (and a resumed run or a model file never needs the dataset again).
"""
from pathlib import Path

from nnrun.errors import UserError

AUTO = "auto"
SHAPE_ARGS = ("width", "height", "channels")


def auto_input_indices(description):
    """Positions of the input layers whose width is `auto` or left out."""
    from nnrun.network.plan import parse_layer

    if not isinstance(description, list):
        return []
    found = []
    for index, entry in enumerate(description):
        try:
            call = parse_layer(entry, index)
        except UserError:
            continue  # the planner reports it, with its place
        if call.name == "input" and _given(call).get("width", AUTO) == AUTO:
            found.append(index)
    return found


def _given(call):
    given = dict(zip(SHAPE_ARGS, call.positional))
    given.update({k: v for k, v in call.keywords.items() if k in SHAPE_ARGS})
    return given


def dataset_input_shape(path):
    """(width, height, channels) of a prepared dataset's examples, or None when there is none there."""
    if not path or not (Path(path).expanduser() / "dataset.json").is_file():
        return None
    from nnrun.data.dataset import open_dataset

    dataset = open_dataset(Path(path).expanduser())
    if dataset.kind == "table":
        return len(dataset.features or []), 1, 1
    image = dataset.image
    return image["size"], image["size"], image["channels"]


def resolve_auto_inputs(description, shape, source):
    """The description with each auto input given `shape` (width, height, channels)."""
    from nnrun.network.plan import parse_layer

    out = list(description)
    for index in auto_input_indices(description):
        call = parse_layer(description[index], index)
        given = _given(call)
        fixed = [k for k in ("height", "channels") if given.get(k, AUTO) != AUTO]
        if fixed:
            raise UserError(f"{call.place()}: width auto takes height and channels from the dataset "
                            f"too; leave out {' and '.join(fixed)} (or give all three)")
        width, height, channels = shape
        keywords = {k: v for k, v in call.keywords.items() if k not in SHAPE_ARGS}
        args = {"width": width} if (height, channels) == (1, 1) else \
            {"width": width, "height": height, "channels": channels}
        out[index] = {"input": {**args, **keywords}}
    return out


def unresolved_message(description, data_path):
    """Why an auto input cannot be resolved now, naming the layer."""
    from nnrun.network.plan import parse_layer

    index = auto_input_indices(description)[0]
    place = parse_layer(description[index], index).place()
    where = f"no prepared dataset at {data_path}" if data_path else "no dataset in the config"
    return (f"{place}: width auto is the dataset's width, and there is {where}; give one "
            f"(data: FOLDER, or --set data=FOLDER) or a width")
