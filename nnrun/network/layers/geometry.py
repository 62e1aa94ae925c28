"""Shape rules the families share: Cortex's window arithmetic (convolution rounds down, pooling
rounds up), the image check, and the shapes written as width [height channels]."""
import math

from nnrun.network import args as a
from nnrun.network.layers.base import Arg, ShapeError
from nnrun.network.shape import Shape

KERNEL_PAD_STRIDE = (Arg("kernel", a.positive_int), Arg("pad", a.pad_or_same, 0),
                     Arg("stride", a.positive_int, 1))
WIDTH_HEIGHT_CHANNELS = (Arg("width", a.positive_int), Arg("height", a.positive_int, 1),
                         Arg("channels", a.positive_int, 1))


def same_shape(p, in_shapes):
    """The rule of a layer whose output has its one input's shape."""
    return in_shapes[0]


def need_image(in_shape, layer):
    if not in_shape.image:
        raise ShapeError(f"{layer} needs an image input (channels×height×width), got a vector of {in_shape}")
    return in_shape


def conv_size(size, kernel, pad, stride):
    """Cortex's convolution: floor((in + 2·pad − kernel) / stride) + 1; "same": ceil(in / stride)."""
    if pad == "same":
        return math.ceil(size / stride)
    return (size + 2 * pad - kernel) // stride + 1


def pool_size(size, kernel, pad, stride):
    """Cortex's pooling: ceil((in + 2·pad − kernel) / stride) + 1; "same": ceil(in / stride)."""
    if pad == "same":
        return math.ceil(size / stride)
    return -((size + 2 * pad - kernel) // -stride) + 1


def spatial(in_shape, p, channels, layer, rule):
    """The image a window layer (kernel pad stride) gives, its height and width by `rule`."""
    need_image(in_shape, layer)
    if p["pad"] != "same" and p["kernel"] > max(in_shape.height, in_shape.width) + 2 * p["pad"]:
        raise ShapeError(f"kernel {p['kernel']} is larger than the padded input {in_shape}")
    h = rule(in_shape.height, p["kernel"], p["pad"], p["stride"])
    w = rule(in_shape.width, p["kernel"], p["pad"], p["stride"])
    if h < 1 or w < 1:
        raise ShapeError(f"input {in_shape} is too small for kernel {p['kernel']}, pad {p['pad']}, "
                         f"stride {p['stride']}")
    return Shape.picture(channels, h, w)


def written_shape(p, in_shapes):
    """The shape the arguments width [height channels] write: a vector unless height or channels > 1."""
    if p["height"] > 1 or p["channels"] > 1:
        return Shape.picture(p["channels"], p["height"], p["width"])
    return Shape.vector(p["width"])
