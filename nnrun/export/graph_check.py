"""Checking a model file's ONNX graph before ONNX Runtime reads it.

A model file may come from a stranger, and an ONNX graph can name files for ONNX Runtime to read
its tensors from (external data, resolved against the working folder, `..` included). nnrun's
graphs have exactly one kind of external tensor: the weights, which name the model file itself
(location "nnrun-model-file") and come from its arrays. So before a session is made, every
tensor anywhere in the graph (initializers, constants in node attributes, subgraphs, functions)
is found by walking the protobuf wire format along the few fields that can hold one, and any
external tensor that is not one of the file's weights is refused.

Only the fields below are followed; everything else is stepped over by its length. Field numbers
are onnx.proto's (a test checks them against onnx's own descriptors).
"""
from nnrun.errors import UserError

OWN_LOCATION = "nnrun-model-file"

# message -> {field number: message type of that field}
SCHEMA = {
    "ModelProto": {7: "GraphProto", 25: "FunctionProto"},
    "GraphProto": {1: "NodeProto", 5: "TensorProto", 15: "SparseTensorProto"},
    "FunctionProto": {7: "NodeProto"},
    "NodeProto": {5: "AttributeProto"},
    "AttributeProto": {5: "TensorProto", 6: "GraphProto", 10: "TensorProto", 11: "GraphProto",
                       22: "SparseTensorProto", 23: "SparseTensorProto"},
    "SparseTensorProto": {1: "TensorProto", 2: "TensorProto"},
    "TensorProto": {13: "StringStringEntryProto"},
    "StringStringEntryProto": {},
}
_TENSOR_NAME, _TENSOR_LOCATION, _EXTERNAL = 8, 14, 1
_MAX_DEPTH = 64


class _Malformed(ValueError):
    pass


def _varint(data, at):
    value, shift = 0, 0
    while True:
        if at >= len(data) or shift > 63:
            raise _Malformed("a varint runs past the end")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, at
        shift += 7


def _fields(data):
    """(field number, wire type, value) of each field: ints for varints, bytes slices otherwise."""
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        number, kind = key >> 3, key & 7
        if kind == 0:
            value, at = _varint(data, at)
        elif kind == 1 or kind == 5:
            width = 8 if kind == 1 else 4
            value, at = data[at:at + width], at + width
        elif kind == 2:
            length, at = _varint(data, at)
            value, at = data[at:at + length], at + length
        else:
            raise _Malformed(f"wire type {kind}")
        if at > len(data):
            raise _Malformed("a field runs past the end")
        yield number, kind, value


def _tensors(data, message, depth=0):
    """Every TensorProto's (name, external?, {key: value}) inside `data`, a `message`."""
    if depth > _MAX_DEPTH:
        raise _Malformed("nested too deeply")
    if message == "TensorProto":
        name, external, entries = "", False, {}
        for number, kind, value in _fields(data):
            if number == _TENSOR_NAME and kind == 2:
                name = bytes(value).decode("utf-8", "replace")
            elif number == _TENSOR_LOCATION and kind == 0:
                external = value == _EXTERNAL
            elif number == 13 and kind == 2:
                entry = {n: bytes(v).decode("utf-8", "replace") for n, k, v in _fields(value) if k == 2}
                entries[entry.get(1, "")] = entry.get(2, "")
        yield name, external, entries
        return
    follow = SCHEMA[message]
    for number, kind, value in _fields(data):
        if number in follow and kind == 2:
            yield from _tensors(value, follow[number], depth + 1)


def check_graph(graph, weights, where):
    """UserError unless every external tensor of `graph` (ModelProto bytes) is one of `weights`
    (graph initializer names) located in the model file."""
    try:
        for name, external, entries in _tensors(memoryview(graph), "ModelProto"):
            if external and (name not in weights or entries.get("location") != OWN_LOCATION):
                raise UserError(f"{where}: its ONNX graph asks for tensor {name!r} from outside the model file "
                                f"({entries.get('location')!r}); refusing to run it")
    except _Malformed as problem:
        raise UserError(f"{where}: its ONNX graph is damaged ({problem})") from None
