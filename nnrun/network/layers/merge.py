"""Where branches meet (concatenate, join) and where they part (split)."""
from nnrun.network import args as a
from nnrun.network.layers.base import Arg, LayerType, ShapeError, register
from nnrun.network.layers.builders import own_module
from nnrun.network.layers.geometry import same_shape
from nnrun.network.shape import Shape


def _join_shape(p, in_shapes):
    first = in_shapes[0]
    for other in in_shapes[1:]:
        if other != first:
            raise ShapeError(f"join needs equal shapes, got {' and '.join(str(s) for s in in_shapes)}")
    return first


def _concat_shape(p, in_shapes):
    if all(not s.image for s in in_shapes):
        return Shape.vector(sum(s.size for s in in_shapes))
    first = in_shapes[0]
    if all(s.image and (s.height, s.width) == (first.height, first.width) for s in in_shapes):
        return Shape.picture(sum(s.channels for s in in_shapes), first.height, first.width)
    raise ShapeError("concatenate needs all vectors or images of one height×width, got "
                     + ", ".join(str(s) for s in in_shapes))


register(LayerType(
    "concatenate", shape=_concat_shape, build=own_module("Concatenate"), parents="many",
    doc="Joins the parents along features or channels."))
register(LayerType(
    "join", (Arg("operation", a.choice("+", "*"), "+"),), shape=_join_shape, build=own_module("Join", "operation"),
    parents="many", doc="Element-wise + (residual) or * of the parents."))
register(LayerType(
    "split", shape=same_shape, transparent=True, doc="A fan-out point: passes its input on."))
