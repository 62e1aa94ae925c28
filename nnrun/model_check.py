"""A model file's contents, checked field by field after its checksum.

The checksum only says the bytes are the ones written - by anyone: a file from a stranger (or an
edited one with a fresh checksum) must be checked as strictly as a config before any of it is
used. Every field that inference, evaluation and export read is checked for its type, its range
and its agreement with the network the file describes, so a bad file is one line naming the
field (`best.nnrun: preprocessing.std: ...`), never a traceback, a wrong answer given silently, or
an allocation sized by a number in the file.
"""

import numpy as np

from nnrun.data.manifest_check import CHANNELS, LARGEST_IMAGE
from nnrun.data.preprocess import MODES
from nnrun.errors import UserError
from nnrun.stored_values import is_integer, is_number, kind as kind_of, shown

KINDS = ("table", "images")
OPTIONAL_MAPS = ("train", "metrics", "dataset", "config", "resume", "onnx")
GRAPH_OUTPUTS = ("probabilities", "reconstruction", "reconstruction_error")  # nnrun.network.predictor's


def check_model_payload(payload, path):
    """UserError naming `path` and the field, unless every field of a model file is sound.
    `payload["plan"]` is its planned network (nnrun.network.plan.Plan)."""
    def fail(field, problem):
        raise UserError(f"{path}: {field}: {problem}")

    tensors = payload.get("tensors")
    if not isinstance(tensors, dict):
        fail("tensors", f"must be a map of weight names to arrays, got {kind_of(tensors)}")
    for name, value in tensors.items():
        if not isinstance(name, str) or not isinstance(value, np.ndarray):
            fail(f"tensors.{name}", f"must be an array, got {kind_of(value)}")
    classes = payload.get("classes")
    if not isinstance(classes, list) or not all(isinstance(c, str) and c for c in classes):
        fail("classes", f"must be a list of class names, got {shown(classes)}")
    if len(set(classes)) != len(classes):
        twice = next(c for c in classes if classes.count(c) > 1)
        fail("classes", f'"{twice}" is named twice')
    leaf = payload["plan"].classifying_leaf
    if leaf is not None:  # an autoencoder alone predicts no classes
        width, count = leaf.out_shape.size, len(classes)
        if width != count and not (width == 1 and count == 2):
            fail("classes", f"names {count} classes but the network gives {width} outputs per input")
    positive = payload.get("positive")
    if positive is not None and positive not in classes:
        fail("positive", f"{shown(positive)} is not one of its classes ({', '.join(classes[:10])})")
    threshold = payload.get("threshold")
    if threshold is not None and not (is_number(threshold) and 0 <= threshold <= 1):
        fail("threshold", f"must be a number from 0 to 1, got {shown(threshold)}")
    epoch = payload.get("epoch")
    if epoch is not None and not (is_integer(epoch) and epoch >= 0):
        fail("epoch", f"must be a whole number ≥ 0, got {shown(epoch)}")
    for key in OPTIONAL_MAPS:
        if payload.get(key) is not None and not isinstance(payload[key], dict):
            fail(key, f"must be a map, got {kind_of(payload[key])}")
    check_preprocessing(payload.get("preprocessing"), payload["plan"], fail)
    if payload.get("onnx") is not None:
        check_graph_record(payload["onnx"], tensors, fail)


def check_graph_record(record, tensors, fail):
    """The ONNX graph record: its graph bytes, its weights named after tensors the file holds,
    and outputs that are the predictor's (nnrun.export.graph_check checks the graph itself)."""
    graph, weights, outputs = (record.get(key) for key in ("graph", "weights", "outputs"))
    if not isinstance(graph, bytes):
        fail("onnx.graph", f"must be the graph's bytes, got {kind_of(graph)}")
    if not (isinstance(weights, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in weights.items())):
        fail("onnx.weights", f"must map initializer names to tensor names, got {shown(weights)}")
    missing = [name for name in weights.values() if name not in tensors]
    if missing:
        fail("onnx.weights", f"names a tensor the file lacks ({missing[0]})")
    if not (isinstance(outputs, list) and outputs and set(outputs) <= set(GRAPH_OUTPUTS)):
        fail("onnx.outputs", f"must list some of {', '.join(GRAPH_OUTPUTS)}, got {shown(outputs)}")


def check_preprocessing(value, plan, fail):
    """The stored preprocessing: known kind and mode, statistics of the right length, and the
    inputs it makes of the size the network's input takes."""
    if not isinstance(value, dict):
        fail("preprocessing", f"must be a map, got {kind_of(value)}")
    kind, mode = value.get("kind"), value.get("mode")
    if kind not in KINDS:
        fail("preprocessing.kind", f"must be table or images, got {shown(kind)}")
    if mode not in MODES:
        fail("preprocessing.mode", f"must be one of {', '.join(MODES)}, got {shown(mode)}")
    features = value.get("features") or []
    if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
        fail("preprocessing.features", f"must be a list of column names, got {shown(features)}")
    size, channels = value.get("image-size") or 0, value.get("channels") or 0
    for key, number in (("image-size", size), ("channels", channels)):
        if not (is_integer(number) and number >= 0):  # read as whole numbers whatever the kind
            fail(f"preprocessing.{key}", f"must be a whole number, got {shown(number)}")
    if kind == "images":
        if not (is_integer(size) and 1 <= size <= LARGEST_IMAGE):
            fail("preprocessing.image-size", f"must be a whole number from 1 to {LARGEST_IMAGE}, got {shown(size)}")
        if channels not in CHANNELS or not is_integer(channels):
            fail("preprocessing.channels", f"must be 1 or 3, got {shown(channels)}")
        width, what = channels, "channel"
        makes = channels * size * size
    else:
        if not features:
            fail("preprocessing.features", "a table network needs its feature column names")
        width, what = len(features), "feature"
        makes = len(features)
    for key in ("mean", "std"):
        stats = value.get(key) or []
        if not isinstance(stats, list) or not all(is_number(x) for x in stats):
            fail(f"preprocessing.{key}", f"must be a list of finite numbers, got {shown(stats)}")
        if mode == "standardize" and len(stats) != width:
            fail(f"preprocessing.{key}", f"has {len(stats)} values for {width} {what}s")
    if value.get("encoding") is not None:
        from nnrun.data.table.encoding_check import check_encoding

        if kind != "table":
            fail("preprocessing.encoding", "only a table has one")
        check_encoding(value["encoding"], features, fail, "preprocessing.encoding")
    inputs = plan.inputs
    if len(inputs) == 1 and inputs[0].out_shape.size != makes:
        shape = f"{channels}×{size}×{size} images" if kind == "images" else f"rows of {makes} features"
        fail("preprocessing", f"makes {shape} ({makes:,} values) but the network's input "
                              f"takes {inputs[0].out_shape} ({inputs[0].out_shape.size:,} values)")
