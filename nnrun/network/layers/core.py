"""The input (a data stream) and the fully connected layer."""
from nnrun.network import args as a
from nnrun.network.layers.base import Arg, LayerType, ShapeError, register
from nnrun.network.layers.builders import init_weight, modules, zero_bias
from nnrun.network.layers.geometry import WIDTH_HEIGHT_CHANNELS, written_shape
from nnrun.network.shape import Shape

AUTO = "auto"


def _build_linear(p, in_shapes, out, he):
    layer = modules.Dense(in_shapes[0].size, p["output-size"])
    init_weight(layer.weight, in_shapes[0].size, he)
    zero_bias(layer)
    return layer


register(LayerType(
    "input", WIDTH_HEIGHT_CHANNELS, shape=written_shape, parents="none",
    doc="A data stream: width [height channels]; its id names the stream."))
def _size_or_auto(value, name):
    return AUTO if value == AUTO else a.positive_int(value, name)


def _linear_shape(p, in_shapes):
    if p["output-size"] == AUTO:
        raise ShapeError("output-size auto is the dataset's class count; give a dataset (data: FOLDER)")
    return Shape.vector(p["output-size"])


register(LayerType(
    "linear", (Arg("output-size", _size_or_auto),),
    shape=_linear_shape, build=_build_linear,
    cost=lambda p, s, out: s[0].size * out.size,
    doc="Fully connected: output-size, or auto for the dataset's class count (an image input is flattened)."))
