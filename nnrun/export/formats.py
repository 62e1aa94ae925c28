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
        before = {"image-decoding": json.dumps(image_decoding(p["image-size"], p["channels"]))}
    else:
        shape, dtype = ["batch", len(p["features"])], "float32"
        before = {"table-encoding": json.dumps(p["encoding"])} if p.get("encoding") is not None else {}
    return {"nnrun-version": __version__, "classes": json.dumps(payload["classes"]), **before,
            "positive": json.dumps(payload.get("positive")), "threshold": json.dumps(payload.get("threshold")),
            "preprocessing": json.dumps(in_graph(p)), "input-shape": json.dumps(shape), "input-dtype": dtype,
            "outputs": json.dumps(payload["plan"].inference_outputs), "epoch": json.dumps(payload.get("epoch")),
            "network": json.dumps(payload["network"])}


def image_decoding(size, channels):
    """How an image file becomes the graph's input, as nnrun.data.decode does it, stated so that a
    program with Pillow and numpy alone decodes the same pixels (docs/examples/image_onnx.py).
    Without the draft step or with another resampling a photo differs by a few levels per pixel,
    enough to move a probability by 0.01."""
    from nnrun.data.decode import MODES

    return {"library": "Pillow", "size": [size, size], "mode": MODES[channels], "jpeg-draft": True,
            "resample": "bicubic", "reducing-gap": 3.0, "exif-orientation": True, "transparent-on": "white",
            "sixteen-bit": "top 8 bits", "layout": "uint8 [channels, size, size], stacked to [batch, ...]",
            "steps": [
                "Image.open(file)",
                "a JPEG only: image.draft(mode, (size, size)) before load(): Pillow then decodes at the "
                "smallest DCT scale (1/2, 1/4, 1/8) that keeps both sides at least size",
                "image.load(); ImageOps.exif_transpose(image) when the EXIF orientation (tag 0x0112) is not 1",
                "transparency (modes RGBA, LA, PA, or P with a transparency key): convert to RGBA and "
                "Image.alpha_composite it over an opaque white image",
                "16-bit grayscale (modes I;16, I;16B, I;16L, I): the array shifted right by 8 bits, as mode L",
                "image.convert(mode) unless it is in that mode already",
                "unless it is size x size already: image.resize((size, size), Image.Resampling.BICUBIC, "
                "reducing_gap=3.0), squashing, no crop",
                "numpy.asarray(image, uint8), channels first; no scaling: the graph does it"]}


def in_graph(p):
    """The preprocessing as the metadata states it: what the graph itself does to its input, so
    that nobody applies it a second time. The figures are those the graph uses; mean and std are
    left out when the mode does not use them."""
    from nnrun.data.preprocess import Preprocessing

    scale, shift = Preprocessing.from_dict(p).scale_and_shift()
    stated = {key: value for key, value in p.items() if key != "encoding"}
    if p["mode"] != "standardize":
        stated.pop("mean", None)
        stated.pop("std", None)
    return {**stated, "in-graph": True,
            "graph-computes": "input * scale + shift, per channel (images) or feature (tables); "
                              "feed the graph the unscaled values",
            "scale": scale.ravel().tolist(), "shift": shift.ravel().tolist()}


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
