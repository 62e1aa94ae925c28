"""What a registry entry is, the registry itself, and looking a layer name up (aliases included)."""
from dataclasses import dataclass, field

from nnrun.network import args as a


class ShapeError(ValueError):
    """A layer cannot take the shapes it is given; the planner adds the place."""


@dataclass(frozen=True)
class Arg:
    name: str
    check: object
    default: object = a.REQUIRED


@dataclass(frozen=True)
class LayerType:
    name: str
    args: tuple = ()
    shape: object = None           # (args, in_shapes) -> Shape
    build: object = None           # (args, in_shapes, out_shape, he) -> nn.Module (None: identity)
    parents: str = "one"           # "none" (input), "one", or "many" (join, concatenate)
    activation: str = None         # the activation this layer is, for weight initialisation
    transparent: bool = False      # looked through when finding the activation after a weight layer
    doc: str = ""
    expands_to: tuple = field(default=())   # combined layers: linear->relu = linear, relu
    cost: object = None            # (args, in_shapes, out_shape) -> multiply-adds per example
                                   # (None: one per output value)
    fused_loss: str = None         # the loss that takes this leaf's pre-activation instead

    def macs(self, args, in_shapes, out_shape):
        """Multiply-adds of one example through this layer."""
        return self.cost(args, in_shapes, out_shape) if self.cost else out_shape.size


REGISTRY = {}
ALIASES = {"sigmoid": "logistic", "avg-pooling": "average-pooling", "batch-norm": "batch-normalization",
           "lrn": "local-response-normalization", "conv": "convolutional", "dense": "linear",
           "depthwise-separable-convolutional": "separable-convolutional"}


def register(layer):
    REGISTRY[layer.name] = layer
    return layer


def lookup(name):
    return REGISTRY.get(ALIASES.get(name, name))
