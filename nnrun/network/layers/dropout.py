"""Noise in training only: dropout (Cortex's keep probability) and multiplicative Gaussian noise."""
from nnrun.network import args as a
from nnrun.network.layers.base import Arg, LayerType, register
from nnrun.network.layers.builders import nn, own_module, simple
from nnrun.network.layers.geometry import same_shape

register(LayerType(
    "dropout", (Arg("probability", a.keep_probability),),
    shape=same_shape, build=simple(lambda p, s: nn.Dropout(1.0 - p["probability"])),
    transparent=True, doc="Inverted dropout, training only; takes the KEEP probability."))
register(LayerType(
    "multiplicative-dropout", (Arg("variance", a.non_negative_number),),
    shape=same_shape, build=own_module("MultiplicativeDropout", "variance"), transparent=True,
    doc="Multiplies by N(1, variance) noise in training."))
