"""The activations (with the loss each fuses with, and which start the weights before them
He-initialised), prelu, leaky-relu, and the combined layers linear->activation."""
from nnrun.network import args as a
from nnrun.network.layers.base import Arg, LayerType, register
from nnrun.network.layers.builders import nn, own_module, simple, torch_module
from nnrun.network.layers.geometry import same_shape

ACTIVATIONS = {
    "relu": torch_module("ReLU"), "logistic": torch_module("Sigmoid"), "tanh": torch_module("Tanh"),
    "swish": torch_module("SiLU"), "selu": torch_module("SELU"), "softmax": own_module("Softmax"),
}
FUSED_LOSSES = {"softmax": "cross-entropy", "logistic": "binary-cross-entropy"}


def _per_channel(shape):
    """How many slopes/statistics a per-channel layer keeps: channels for images, features for vectors."""
    return shape.channels if shape.image else shape.width


for _name, _build in ACTIVATIONS.items():
    register(LayerType(_name, shape=same_shape, build=_build, activation=_name, fused_loss=FUSED_LOSSES.get(_name),
                       doc=f"{_name} activation."))
register(LayerType(
    "prelu", shape=same_shape, activation="prelu",
    build=simple(lambda p, s: nn.PReLU(_per_channel(s[0]), 0.25)),
    doc="Learned slope per channel (per feature for vectors), starting at 0.25."))
register(LayerType(
    "leaky-relu", (Arg("alpha", a.non_negative_number, 0.01),), shape=same_shape,
    activation="leaky-relu", build=simple(lambda p, s: nn.LeakyReLU(p["alpha"])),
    doc="max(x, alpha·x); alpha 0.01."))
for _act in ("relu", "softmax", "tanh", "logistic", "swish", "selu"):
    register(LayerType(f"linear->{_act}", (Arg("output-size", a.positive_int),),
                       expands_to=("linear", _act), doc=f"linear then {_act}; an id goes to the {_act}."))

# Activations after which weights start He-initialised.
HE_ACTIVATIONS = {"relu", "swish", "prelu", "leaky-relu"}
