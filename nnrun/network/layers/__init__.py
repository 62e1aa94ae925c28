"""The layer vocabulary: one registry entry per layer type.

An entry says everything about a layer: which arguments it takes (positional order, checks,
defaults), how its output shape follows from its inputs' shapes (`shape`), how to build its
torch module with its initial weights (`build`), what a forward pass costs (`cost`, for the
choice of threads), and which loss takes its pre-activation (`fused_loss`: softmax with
cross-entropy, logistic with binary cross-entropy, for numerical stability). Its ONNX form is
torch's export of the module (nnrun/export/onnx_graph.py): nothing to write per layer.

The entries live by family, one file each, registered in this order (the registry's order):
  core.py           input, linear
  convolution.py    convolutional, depthwise-convolutional, separable-convolutional
  pooling.py        max-pooling, average-pooling, global-average-pooling, up-sampling
  reshaping.py      flatten, reshape
  dropout.py        dropout, multiplicative-dropout
  normalisation.py  batch-normalization, local-response-normalization
  activation.py     relu, logistic, tanh, swish, selu, softmax, prelu, leaky-relu, linear->activation
  merge.py          concatenate, join, split
  tabular.py        embedding (a table's categories and numbers as vectors)
What they share lies beside them: base.py (the entry, the registry, aliases, lookup), geometry.py
(shape rules: Cortex's window arithmetic, the image check), builders.py (torch on first use, weight
initialisation, builder wrappers). Adding a layer type means adding one entry in its family's file
and a test; nothing else (tests/test_layer_registry.py checks that every entry has every part and
exports). A new family is a new file, imported at the bottom of this one.
Semantics follow Cortex (see CORTEX.md): convolution rounds down, pooling rounds up, dropout
takes the keep probability, batch-norm averages with factor 0.9 and epsilon 1e-4, prelu starts
at 0.25, and weights start He-initialised before relu/swish and Xavier otherwise.
"""
import importlib

from nnrun.network.layers.base import ALIASES, REGISTRY, Arg, LayerType, ShapeError, lookup, register
from nnrun.network.layers.builders import init_weight
from nnrun.network.layers.geometry import KERNEL_PAD_STRIDE, conv_size, pool_size

# Each family registers its entries when imported: this order is the registry's order.
FAMILIES = ("core", "convolution", "pooling", "reshaping", "dropout", "normalisation", "activation", "merge",
            "tabular")
for _family in FAMILIES:
    importlib.import_module(f"{__name__}.{_family}")

from nnrun.network.layers.activation import ACTIVATIONS, FUSED_LOSSES, HE_ACTIVATIONS  # noqa: E402  (after the families)

__all__ = ["ACTIVATIONS", "ALIASES", "Arg", "FUSED_LOSSES", "HE_ACTIVATIONS", "KERNEL_PAD_STRIDE", "LayerType",
           "REGISTRY", "ShapeError", "conv_size", "init_weight", "lookup", "pool_size", "register"]
