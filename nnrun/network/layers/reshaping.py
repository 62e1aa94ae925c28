"""Layers that keep the values and change the shape: flatten and reshape."""
from nnrun.network.layers.base import LayerType, ShapeError, register
from nnrun.network.layers.builders import modules, torch_module
from nnrun.network.layers.geometry import WIDTH_HEIGHT_CHANNELS, written_shape
from nnrun.network.shape import Shape


def _reshape_shape(p, in_shapes):
    out = written_shape(p, in_shapes)
    if out.size != in_shapes[0].size:
        raise ShapeError(f"cannot reshape {in_shapes[0]} ({in_shapes[0].size} values) to {out} "
                         f"({out.size} values)")
    return out


register(LayerType(
    "flatten", shape=lambda p, s: Shape.vector(s[0].size), build=torch_module("Flatten"), transparent=True,
    doc="Image -> vector."))
register(LayerType(
    "reshape", WIDTH_HEIGHT_CHANNELS,
    shape=_reshape_shape, build=lambda p, s, out, he: modules.Reshape(out.batch_dims()),
    transparent=True, doc="Same values, new shape: width [height channels]."))
