"""The input (a data stream) and the fully connected layer."""
from nnrun.network import args as a
from nnrun.network.layers.base import Arg, LayerType, register
from nnrun.network.layers.builders import init_weight, modules, zero_bias
from nnrun.network.layers.geometry import WIDTH_HEIGHT_CHANNELS, written_shape
from nnrun.network.shape import Shape


def _build_linear(p, in_shapes, out, he):
    layer = modules.Dense(in_shapes[0].size, p["output-size"])
    init_weight(layer.weight, in_shapes[0].size, he)
    zero_bias(layer)
    return layer


register(LayerType(
    "input", WIDTH_HEIGHT_CHANNELS, shape=written_shape, parents="none",
    doc="A data stream: width [height channels]; its id names the stream."))
register(LayerType(
    "linear", (Arg("output-size", a.positive_int),),
    shape=lambda p, s: Shape.vector(p["output-size"]), build=_build_linear,
    cost=lambda p, s, out: s[0].size * out.size,
    doc="Fully connected: output-size (an image input is flattened)."))
