"""A table's columns entering the network: categories through embeddings, numbers as they are or
through periodic embeddings.

`embedding` takes a table row as the prepared dataset stores it (nnrun.data.table.encoding):
number features standardised, category features as integer codes. Which features are codes,
and how many codes each has, it reads from the dataset when the config leaves `levels` out (as
`input` reads its width), and the run's config records the numbers. Each category gets an
embedding of `size` (by default fastai's rule, min(600, round(1.6 · codes^0.56))), overridable
per column with `sizes: {column: n}`. Numbers are first clipped smoothly, x / sqrt(1 + (x/c)^2)
with c = `clip` (RealMLP's robust preprocessing: an outlier cannot dominate a unit), then given
as they are (`numbers: plain`) or as periodic embeddings (`numbers: periodic`: for each number,
sin and cos of 2π·f·x at `frequencies` learned frequencies f ~ N(0, frequency-scale), a linear
map to `number-size` and a relu: Gorishniy et al.'s PLR, "On Embeddings for Numerical Features
in Tabular Deep Learning", 2022). The output is the numbers' vectors, then the categories',
in feature order.
"""
import numbers

from nnrun.network import args as a
from nnrun.network.layers.base import Arg, LayerType, ShapeError, register
from nnrun.network.layers.builders import modules
from nnrun.network.shape import Shape

AUTO = "auto"


def fastai_size(codes):
    """fastai's embedding size for a category with this many codes."""
    return min(600, round(1.6 * codes ** 0.56))


def _levels(value, name):
    if value == AUTO:
        return AUTO
    if not isinstance(value, list) or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool)
                                              and 0 <= v <= 2**24 for v in value):
        raise ValueError(f"{name} must be a list of code counts per feature (0 for a number), got {value!r}")
    if any(v == 1 for v in value):
        raise ValueError(f"{name}: a category has at least 2 codes, got 1")
    return [int(v) for v in value]


def _names(value, name):
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{name} must be a list of feature names, got {value!r}")
    return list(value)


def _size(value, name):
    return AUTO if value == AUTO else a.positive_int(value, name)


def _sizes(value, name):
    if not isinstance(value, dict):
        raise ValueError(f"{name} must be a map of column name to embedding size, got {value!r}")
    return {str(k): a.positive_int(v, f"{name}.{k}") for k, v in value.items()}


def category_sizes(p):
    """[(feature index, codes, embedding size)] for each category feature."""
    names = p["features"]
    out = []
    for j, codes in enumerate(p["levels"]):
        if codes:
            name = names[j] if j < len(names) else None
            size = p["sizes"].get(name) if name is not None else None
            if size is None:
                size = fastai_size(codes) if p["size"] == AUTO else p["size"]
            out.append((j, codes, size))
    return out


def _check(p, in_shapes):
    if p["levels"] == AUTO:
        raise ShapeError("levels auto are the dataset's category columns; give a dataset (data: FOLDER)")
    shape = in_shapes[0]
    if shape.image or shape.size != len(p["levels"]):
        raise ShapeError(f"takes a table row of {len(p['levels'])} features, got {shape}")
    if p["features"] and len(p["features"]) != len(p["levels"]):
        raise ShapeError(f"names {len(p['features'])} features for {len(p['levels'])} levels")
    unknown = sorted(set(p["sizes"]) - {p["features"][j] for j, c in enumerate(p["levels"]) if c and p["features"]})
    if unknown:
        raise ShapeError(f'sizes: "{unknown[0]}" is not a category column of this table')


def _shape(p, in_shapes):
    _check(p, in_shapes)
    count = sum(1 for c in p["levels"] if c == 0)
    per_number = p["number-size"] if p["numbers"] == "periodic" else 1
    return Shape.vector(count * per_number + sum(size for _, _, size in category_sizes(p)))


def _cost(p, in_shapes, out):
    count = sum(1 for c in p["levels"] if c == 0)
    periodic = count * 2 * p["frequencies"] * p["number-size"] if p["numbers"] == "periodic" else count
    return periodic + out.size


def _build(p, in_shapes, out, he):
    return modules.ColumnEmbedding(p["levels"], category_sizes(p), p["numbers"], p["frequencies"],
                                   p["number-size"], p["frequency-scale"], p["clip"])


register(LayerType(
    "embedding",
    (Arg("levels", _levels, AUTO), Arg("features", _names, []), Arg("size", _size, AUTO), Arg("sizes", _sizes, {}),
     Arg("numbers", a.choice("plain", "periodic"), "plain"), Arg("frequencies", a.positive_int, 16),
     Arg("number-size", a.positive_int, 16), Arg("frequency-scale", a.positive_number, 0.1),
     Arg("clip", a.non_negative_number, 3.0)),
    shape=_shape, build=_build, cost=_cost,
    doc="A table row's columns as vectors: categories through embeddings, numbers clipped (and "
        "optionally periodic embeddings); levels from the dataset."))
