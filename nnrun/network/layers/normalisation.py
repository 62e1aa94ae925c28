"""Normalisation: batch-normalization (Cortex's averaging factor) and local response normalization."""
from nnrun.network import args as a
from nnrun.network.layers.base import Arg, LayerType, register
from nnrun.network.layers.builders import nn, simple
from nnrun.network.layers.geometry import need_image, same_shape


def _build_batch_norm(p, in_shapes, out, he):
    # Cortex keeps running = 0.9·running + 0.1·batch: torch's momentum is the 0.1.
    momentum = 1.0 - p["ave-factor"]
    if in_shapes[0].image:
        return nn.BatchNorm2d(in_shapes[0].channels, eps=p["epsilon"], momentum=momentum)
    return nn.BatchNorm1d(in_shapes[0].size, eps=p["epsilon"], momentum=momentum)


register(LayerType(
    "batch-normalization", (Arg("ave-factor", a.fraction, 0.9), Arg("epsilon", a.positive_number, 1e-4)),
    shape=same_shape, build=_build_batch_norm, transparent=True,
    doc="Per feature, or per channel for images; running-average factor 0.9, epsilon 1e-4."))
register(LayerType(
    "local-response-normalization",
    (Arg("k", a.non_negative_number, 2.0), Arg("n", a.positive_int, 5), Arg("alpha", a.non_negative_number, 1e-4),
     Arg("beta", a.non_negative_number, 0.75)),
    shape=lambda p, s: need_image(s[0], "local-response-normalization"),
    build=simple(lambda p, s: nn.LocalResponseNorm(p["n"], p["alpha"], p["beta"], p["k"])),
    transparent=True, doc="Across channels: k 2, n 5, alpha 1e-4, beta 0.75."))
