"""`nnrun export`: a model file in the formats other tools read.

    onnx         the network with its weights (the same graph `nnrun infer` runs: stored values
                 in, probabilities / reconstruction out), nnrun's metadata in the model's
                 metadata properties, checked with onnx.checker
    safetensors  the weights, with the same metadata as JSON strings; loads into numpy
    torchscript  the same Predictor traced, the metadata as the extra file nnrun.json
    nnrun        the model file itself with its ONNX graph added: what an older file needs
                 to run on ONNX Runtime

Every output appears whole or not at all.
"""
import json
import os
import warnings

from nnrun import __version__
from nnrun.atomic import atomic_file, refuse_overwriting
from nnrun.errors import UserError

FORMATS = {".onnx": "onnx", ".safetensors": "safetensors", ".pt": "torchscript", ".ts": "torchscript",
           ".nnrun": "nnrun"}


def format_for(out):
    """The format a file name's extension asks for; UserError when it says none."""
    extension = os.path.splitext(out)[1].lower()
    if extension not in FORMATS:
        raise UserError(f"{out}: say which format with --format (onnx, safetensors, torchscript, nnrun); "
                        f"the extension \"{extension}\" does not")
    return FORMATS[extension]


def metadata(payload):
    """What a model says about itself, as strings: every format carries the same."""
    p = payload["preprocessing"]
    if p["kind"] == "images":
        shape, dtype = ["batch", p["channels"], p["image-size"], p["image-size"]], "uint8"
    else:
        shape, dtype = ["batch", len(p["features"])], "float32"
    table = {"table-encoding": json.dumps(p["encoding"])} if p.get("encoding") is not None else {}
    return {"nnrun-version": __version__, "classes": json.dumps(payload["classes"]), **table,
            "positive": json.dumps(payload.get("positive")), "threshold": json.dumps(payload.get("threshold")),
            "preprocessing": json.dumps(p), "input-shape": json.dumps(shape), "input-dtype": dtype,
            "outputs": json.dumps(payload["plan"].inference_outputs), "epoch": json.dumps(payload.get("epoch")),
            "network": json.dumps(payload["network"])}


def export_model(checkpoint, out, fmt):
    """Write CHECKPOINT's model to `out` in format `fmt`; returns the bytes written."""
    from nnrun.model_io import read_model

    if fmt != "nnrun":  # a model file written over itself (with its ONNX graph added) stays a model file
        refuse_overwriting(out, [checkpoint])
    payload = read_model(checkpoint)
    if fmt == "safetensors":
        from safetensors.numpy import save

        data = save({name: _contiguous(a) for name, a in payload["tensors"].items()}, metadata=metadata(payload))
    elif fmt == "nnrun":
        data = None
        _with_graph(checkpoint, payload, out)
    else:
        data = _traced(payload, fmt)
    if data is not None:
        with atomic_file(out, "wb") as f:
            f.write(data)
    return os.path.getsize(out)


def _contiguous(array):
    import numpy as np

    return np.ascontiguousarray(array)


def _traced(payload, fmt):
    from nnrun.data.preprocess import Preprocessing
    from nnrun.model_io import network_from_payload

    network = network_from_payload(payload)
    preprocessing = Preprocessing.from_dict(payload["preprocessing"])
    if fmt == "onnx":
        from nnrun.export.onnx_graph import standalone_model

        return standalone_model(network, preprocessing, payload["classes"], metadata(payload))
    import io

    import torch

    from nnrun.export.onnx_graph import example_input
    from nnrun.network.predictor import Predictor

    predictor = Predictor(network, preprocessing, len(payload["classes"])).eval()
    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchScript's notes on its own deprecation and on tracing shapes
        traced = torch.jit.trace(predictor, (example_input(preprocessing),), check_trace=False)
        torch.jit.save(traced, buffer, _extra_files={"nnrun.json": json.dumps(metadata(payload))})
    return buffer.getvalue()


def _with_graph(checkpoint, payload, out):
    """The model file at `checkpoint`, every value kept as it was, its ONNX graph (re)made."""
    from nnrun.checkpoint import read_checkpoint, write_checkpoint
    from nnrun.data.preprocess import Preprocessing
    from nnrun.export.onnx_graph import graph_record
    from nnrun.model_io import network_from_payload

    network = network_from_payload(payload)
    record = graph_record(network, Preprocessing.from_dict(payload["preprocessing"]), payload["classes"])
    original = read_checkpoint(checkpoint)  # tensors as torch, so a last.nnrun still resumes
    original["onnx"] = record
    write_checkpoint(out, original)
