"""What a network takes from the prepared dataset, so one config fits any table:

    input: {width: auto}       (or no width) the dataset's feature count, or for images its
                               size × size × channels
    embedding: {}              (levels auto or left out) which features are category codes and
                               how many codes each has, with the feature names
    linear: auto               the dataset's class count (the last layer before a softmax)

They are resolved when the spec is loaded with a dataset at hand, and the network description
is rewritten with the numbers, so the run's config.yaml and its checkpoints record what trained
(and a resumed run or a model file never needs the dataset again).
"""
from dataclasses import dataclass
from pathlib import Path

from nnrun.errors import UserError

AUTO = "auto"
SHAPE_ARGS = ("width", "height", "channels")


@dataclass
class DatasetFacts:
    shape: tuple          # (width, height, channels) of one example
    levels: list          # tables: codes per feature (0 for numbers); None for images
    features: list        # tables: feature names; None for images
    classes: int          # how many classes (0 for an unlabelled set)


def auto_input_indices(description):
    """Positions of the layers that take something from the dataset (see above)."""
    from nnrun.network.plan import parse_layer

    if not isinstance(description, list):
        return []
    found = []
    for index, entry in enumerate(description):
        try:
            call = parse_layer(entry, index)
        except UserError:
            continue  # the planner reports it, with its place
        if _wants_dataset(call):
            found.append(index)
    return found


def _wants_dataset(call):
    if call.name == "input":
        return _given(call).get("width", AUTO) == AUTO
    if call.name == "embedding":
        return _argument(call, "levels", 0) in (AUTO, None)
    if call.name == "linear":
        return _argument(call, "output-size", 0) == AUTO
    return False


def _argument(call, name, position):
    if name in call.keywords:
        return call.keywords[name]
    return call.positional[position] if len(call.positional) > position else None


def _given(call):
    given = dict(zip(SHAPE_ARGS, call.positional))
    given.update({k: v for k, v in call.keywords.items() if k in SHAPE_ARGS})
    return given


def dataset_facts(path):
    """DatasetFacts of the prepared dataset at `path`, or None when there is none there."""
    if not path or not (Path(path).expanduser() / "dataset.json").is_file():
        return None
    from nnrun.data.dataset import open_dataset

    dataset = open_dataset(Path(path).expanduser())
    classes = len(dataset.classes)
    if dataset.kind == "table":
        features = dataset.features or []
        encoding = dataset.encoding
        levels = encoding.category_levels() if encoding is not None else [0] * len(features)
        return DatasetFacts((len(features), 1, 1), levels, features, classes)
    image = dataset.image
    return DatasetFacts((image["size"], image["size"], image["channels"]), None, None, classes)


def dataset_input_shape(path):
    """(width, height, channels) of a prepared dataset's examples, or None when there is none there."""
    facts = dataset_facts(path)
    return facts.shape if facts is not None else None


def resolve_auto_inputs(description, facts, source=None):
    """The description with each layer that takes something from the dataset given it."""
    from nnrun.network.plan import parse_layer

    out = list(description)
    for index in auto_input_indices(description):
        call = parse_layer(description[index], index)
        if call.name == "input":
            out[index] = _resolved_input(call, facts.shape)
        elif call.name == "embedding":
            if facts.levels is None:
                raise UserError(f"{call.place()}: an embedding takes a table's columns; the dataset holds images")
            keywords = {k: v for k, v in call.keywords.items() if k not in ("levels", "features")}
            out[index] = {"embedding": {"levels": list(facts.levels), "features": list(facts.features), **keywords}}
        else:
            if facts.classes < 2:
                raise UserError(f"{call.place()}: output-size auto is the class count, and the dataset has no classes")
            keywords = {k: v for k, v in call.keywords.items() if k != "output-size"}
            out[index] = {"linear": facts.classes, **keywords} if not keywords else \
                {"linear": {"output-size": facts.classes, **keywords}}
    return out


def _resolved_input(call, shape):
    given = _given(call)
    fixed = [k for k in ("height", "channels") if given.get(k, AUTO) != AUTO]
    if fixed:
        raise UserError(f"{call.place()}: width auto takes height and channels from the dataset "
                        f"too; leave out {' and '.join(fixed)} (or give all three)")
    width, height, channels = shape
    keywords = {k: v for k, v in call.keywords.items() if k not in SHAPE_ARGS}
    args = {"width": width} if (height, channels) == (1, 1) else \
        {"width": width, "height": height, "channels": channels}
    return {"input": {**args, **keywords}}


def unresolved_message(description, data_path):
    """Why a layer that takes something from the dataset cannot be resolved now, naming it."""
    from nnrun.network.plan import parse_layer

    index = auto_input_indices(description)[0]
    call = parse_layer(description[index], index)
    what = {"input": "width auto is the dataset's width",
            "embedding": "its levels are the dataset's category columns",
            "linear": "output-size auto is the dataset's class count"}[call.name]
    where = f"no prepared dataset at {data_path}" if data_path else "no dataset in the config"
    return (f"{call.place()}: {what}, and there is {where}; give one "
            f"(data: FOLDER, or --set data=FOLDER)" + (" or a width" if call.name == "input" else ""))
