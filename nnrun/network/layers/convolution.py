"""The convolutions: plain, depthwise (one kernel per input channel) and separable (depthwise then
1×1 pointwise); "same" padding that cannot be symmetric is padded on one side first."""
from nnrun.network import args as a
from nnrun.network.layers.base import Arg, LayerType, register
from nnrun.network.layers.builders import init_weight, modules, zero_bias
from nnrun.network.layers.geometry import KERNEL_PAD_STRIDE, conv_size, spatial


def _conv_padding(in_shape, p):
    """(symmetric pad for torch, extra asymmetric pad or None)."""
    if p["pad"] != "same":
        return p["pad"], None
    top, bottom = modules.same_padding(in_shape.height, p["kernel"], p["stride"])
    left, right = modules.same_padding(in_shape.width, p["kernel"], p["stride"])
    if left == right and top == bottom and left == top:
        return left, None
    return 0, (left, right, top, bottom)


def _build_conv(p, in_shapes, out, he):
    pad, extra = _conv_padding(in_shapes[0], p)
    channels = in_shapes[0].channels
    layer = modules.Conv(channels, p["num-kernels"], p["kernel"], p["stride"], pad, extra=extra)
    init_weight(layer.weight, channels * p["kernel"] ** 2, he)
    zero_bias(layer)
    return layer


def _build_depthwise(p, in_shapes, out, he):
    pad, extra = _conv_padding(in_shapes[0], p)
    channels = in_shapes[0].channels
    layer = modules.Conv(channels, channels * p["multiplier"], p["kernel"], p["stride"], pad, groups=channels,
                         extra=extra)
    init_weight(layer.weight, p["kernel"] ** 2, he)
    zero_bias(layer)
    return layer


def _build_separable(p, in_shapes, out, he):
    pad, extra = _conv_padding(in_shapes[0], p)
    channels = in_shapes[0].channels
    layer = modules.SeparableConv(channels, p["num-kernels"], p["kernel"], p["stride"], pad, extra)
    init_weight(layer.depthwise.weight, p["kernel"] ** 2, False)
    init_weight(layer.pointwise.weight, channels, he)
    zero_bias(layer.pointwise)
    return layer


register(LayerType(
    "convolutional", KERNEL_PAD_STRIDE + (Arg("num-kernels", a.positive_int),),
    shape=lambda p, s: spatial(s[0], p, p["num-kernels"], "convolutional", conv_size),
    build=_build_conv, cost=lambda p, s, out: out.size * p["kernel"] ** 2 * s[0].channels,
    doc="kernel pad stride num-kernels; output rounds down; pad may be \"same\"."))
register(LayerType(
    "depthwise-convolutional", KERNEL_PAD_STRIDE + (Arg("multiplier", a.positive_int, 1),),
    shape=lambda p, s: spatial(s[0], p, s[0].channels * p["multiplier"], "depthwise-convolutional",
                               conv_size),
    build=_build_depthwise, cost=lambda p, s, out: out.size * p["kernel"] ** 2,
    doc="One kernel per input channel: kernel pad stride [multiplier]."))
register(LayerType(
    "separable-convolutional", KERNEL_PAD_STRIDE + (Arg("num-kernels", a.positive_int),),
    shape=lambda p, s: spatial(s[0], p, p["num-kernels"], "separable-convolutional", conv_size),
    build=_build_separable, doc="Depthwise then 1×1 pointwise convolution (Xception).",
    cost=lambda p, s, out: out.height * out.width * s[0].channels * (p["kernel"] ** 2 + p["num-kernels"])))
