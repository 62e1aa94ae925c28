"""Pooling (max, average, global average) and up-sampling. Pooling rounds up, like Cortex: torch's
own max-pooling serves where it gives the same windows, nnrun's CortexPool elsewhere."""
from nnrun.network import args as a
from nnrun.network.layers.base import Arg, LayerType, register
from nnrun.network.layers.builders import modules, nn, own_module
from nnrun.network.layers.geometry import KERNEL_PAD_STRIDE, need_image, pool_size, spatial
from nnrun.network.shape import Shape


def _build_pool(p, in_shapes, out, he):
    src, k, s = in_shapes[0], p["kernel"], p["stride"]
    op = p["pool-op"]
    if p["pad"] == "same":
        top, bottom = modules.same_padding(src.height, k, s)
        left, right = modules.same_padding(src.width, k, s)
        return modules.CortexPool(k, s, (left, right, top, bottom), op)
    pad = p["pad"]
    # Padding needed after the input so the last (ceil-rounded) window fits.
    bottom = (out.height - 1) * s + k - src.height - pad
    right = (out.width - 1) * s + k - src.width - pad
    if op == "max" and pad <= k // 2 and bottom <= pad + s - 1 and right <= pad + s - 1:
        torch_h = _torch_ceil_pool(src.height, k, pad, s)
        torch_w = _torch_ceil_pool(src.width, k, pad, s)
        if (torch_h, torch_w) == (out.height, out.width):  # torch agrees: use its fast kernel
            return nn.MaxPool2d(k, s, pad, ceil_mode=True)
    return modules.CortexPool(k, s, (pad, max(right, 0), pad, max(bottom, 0)), op)


def _torch_ceil_pool(size, k, pad, s):
    """torch's ceil_mode size: Cortex's, less a last window that would start in the padding after the input."""
    out = pool_size(size, k, pad, s)
    if (out - 1) * s >= size + pad:
        out -= 1
    return out


for _name, _op in (("max-pooling", "max"), ("average-pooling", "avg")):
    register(LayerType(
        _name, KERNEL_PAD_STRIDE + (Arg("pool-op", a.choice("max", "avg", "avg-exc-pad"), _op),),
        shape=lambda p, s, _n=_name: spatial(s[0], p, s[0].channels, _n, pool_size),
        build=_build_pool, transparent=True,
        doc="kernel pad stride; output rounds UP; pool-op max, avg (padding counted), avg-exc-pad."))
register(LayerType(
    "global-average-pooling",
    shape=lambda p, s: Shape.vector(need_image(s[0], "global-average-pooling").channels),
    build=own_module("GlobalAveragePooling"), transparent=True, doc="Mean of each channel: image -> vector."))
register(LayerType(
    "up-sampling", (Arg("scale", a.positive_int, 2), Arg("mode", a.choice("nearest", "bilinear"), "nearest")),
    shape=lambda p, s: Shape.picture(need_image(s[0], "up-sampling").channels, s[0].height * p["scale"],
                                     s[0].width * p["scale"]),
    build=own_module("UpSampling", "scale", "mode"), transparent=True, doc="Repeat pixels: scale [mode]."))
