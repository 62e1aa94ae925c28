"""The network as an ONNX graph: what ONNX Runtime runs in `nnrun infer` and `nnrun export` writes.

A model file carries its network's graph with the weights left out: each weight is an external
initializer that names the model file's own tensor, and the engine hands ONNX Runtime those
arrays when it builds the session (engines.py). The graph depends only on the network's
structure, never on the weights, so training exports it once per run and every checkpoint of
the run stores the same few kilobytes; the weights are stored once, as they always were.

    {"graph": <ModelProto bytes, weights external>, "opset": 20,
     "weights": {graph initializer name: model-file tensor name}, "outputs": [...], "torch": version}

Torch's TorchScript-based exporter does the tracing: it is many times quicker than the
torch.export-based one, which also needs onnxscript. Before tracing, the weights
of a copy of the network are filled with distinct random values, because the exporter merges
initializers that happen to be equal (a batch-norm's scale and running variance both start as
ones), and a graph made at the first epoch must still be right at the last.
"""
import copy
import io
import warnings

import torch

from nnrun.errors import UserError
from nnrun.export.graph_check import OWN_LOCATION
from nnrun.network.predictor import Predictor

OPSET = 20          # the newest opset torch's TorchScript-based exporter writes
INPUT = "input"
_PREFIX = "network."  # Predictor holds the network under this name


def example_input(preprocessing, batch=2):
    """A batch of stored values of the right shape and dtype for tracing."""
    p = preprocessing
    if p.kind == "images":
        return torch.zeros((batch, p.channels, p.image_size, p.image_size), dtype=torch.uint8)
    return torch.zeros((batch, len(p.features)), dtype=torch.float32)


def trace(predictor, example):
    """ONNX ModelProto bytes of `predictor` on inputs like `example`, batch dimension dynamic."""
    names = predictor.network.plan.inference_outputs
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes about itself, not about this network
        torch.onnx.export(predictor, (example,), buffer, dynamo=False, opset_version=OPSET,
                          input_names=[INPUT], output_names=names, do_constant_folding=False,
                          dynamic_axes={name: {0: "batch"} for name in [INPUT, *names]})
    return buffer.getvalue()


def _distinct_copy(network):
    """A CPU float32 copy of `network` whose parameters and buffers are all different (see above)."""
    twin = copy.deepcopy(network).to("cpu", torch.float32).eval()
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for tensor in [*twin.parameters(), *twin.buffers()]:
            if tensor.is_floating_point():
                tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
    return twin


def graph_record(network, preprocessing, classes):
    """The graph a model file stores for `network` (weights external), or raises UserError when
    this network cannot be exported."""
    import onnx

    predictor = Predictor(_distinct_copy(network), preprocessing, len(classes)).eval()
    try:
        model = onnx.load_from_string(trace(predictor, example_input(preprocessing)))
    except Exception as problem:  # the exporter raises many kinds; the caller reports it
        first = (str(problem).strip().splitlines() or [type(problem).__name__])[0]
        raise UserError(f"the network cannot be exported to ONNX: {first}") from None
    tensors = network.state_dict()
    weights = {}
    for initializer in model.graph.initializer:
        name = initializer.name.removeprefix(_PREFIX)
        if initializer.name.startswith(_PREFIX) and name in tensors:
            _make_external(initializer)
            weights[initializer.name] = name
    return {"graph": model.SerializeToString(), "opset": OPSET, "weights": weights,
            "outputs": network.plan.inference_outputs, "torch": torch.__version__}


def _make_external(initializer):
    """Keep the initializer's name, type and shape; its values come from the model file."""
    import onnx

    initializer.ClearField("raw_data")
    for field in ("float_data", "int32_data", "int64_data", "double_data"):
        initializer.ClearField(field)
    initializer.data_location = onnx.TensorProto.EXTERNAL
    del initializer.external_data[:]
    entry = initializer.external_data.add()
    entry.key, entry.value = "location", OWN_LOCATION


def standalone_model(network, preprocessing, classes, metadata):
    """A complete ONNX model (weights inside) with nnrun's metadata, checked with onnx.checker."""
    import onnx

    predictor = Predictor(network.to("cpu", torch.float32).eval(), preprocessing, len(classes)).eval()
    try:
        model = onnx.load_from_string(trace(predictor, example_input(preprocessing)))
    except Exception as problem:
        first = (str(problem).strip().splitlines() or [type(problem).__name__])[0]
        raise UserError(f"the network cannot be exported to ONNX: {first}") from None
    model.producer_name = "nnrun"
    del model.metadata_props[:]
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString()
