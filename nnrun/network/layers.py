"""The layer vocabulary: one registry entry per layer type.

An entry says everything about a layer: which arguments it takes (positional order, checks,
defaults), how its output shape follows from its inputs' shapes (`shape`), how to build its
torch module with its initial weights (`build`), what a forward pass costs (`cost`, for the
choice of threads), and which loss takes its pre-activation (`fused_loss`: softmax with
cross-entropy, logistic with binary cross-entropy, for numerical stability). Its ONNX form is
torch's export of the module (nnrun/export/onnx_graph.py): nothing to write per layer. Adding a
layer type means adding one entry here and a test; nothing else (tests/test_layer_registry.py
checks that every entry has every part and exports).
Semantics follow Cortex (see CORTEX.md): convolution rounds down, pooling rounds up, dropout
takes the keep probability, batch-norm averages with factor 0.9 and epsilon 1e-4, prelu starts
at 0.25, and weights start He-initialised before relu/swish and Xavier otherwise.
"""
import math
from dataclasses import dataclass, field

from nnrun.lazy import OnFirstUse
from nnrun.network import args as a
from nnrun.network.shape import Shape


# Planning needs no torch: building does, and imports it then (see nnrun/lazy.py).
torch = OnFirstUse("torch")
nn = OnFirstUse("torch.nn")
modules = OnFirstUse("nnrun.network.modules")


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


# ---- shape rules ---------------------------------------------------------------------------

def _one(p, in_shapes):
    return in_shapes[0]


def _image(in_shape, layer):
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


def _spatial(in_shape, p, channels, layer, rule):
    _image(in_shape, layer)
    if p["pad"] != "same" and p["kernel"] > max(in_shape.height, in_shape.width) + 2 * p["pad"]:
        raise ShapeError(f"kernel {p['kernel']} is larger than the padded input {in_shape}")
    h = rule(in_shape.height, p["kernel"], p["pad"], p["stride"])
    w = rule(in_shape.width, p["kernel"], p["pad"], p["stride"])
    if h < 1 or w < 1:
        raise ShapeError(f"input {in_shape} is too small for kernel {p['kernel']}, pad {p['pad']}, "
                         f"stride {p['stride']}")
    return Shape.picture(channels, h, w)


def _per_channel(shape):
    """How many slopes/statistics a per-channel layer keeps: channels for images, features for vectors."""
    return shape.channels if shape.image else shape.width


def _input_shape(p, in_shapes):
    if p["height"] > 1 or p["channels"] > 1:
        return Shape.picture(p["channels"], p["height"], p["width"])
    return Shape.vector(p["width"])


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


def _reshape_shape(p, in_shapes):
    out = _input_shape(p, in_shapes)
    if out.size != in_shapes[0].size:
        raise ShapeError(f"cannot reshape {in_shapes[0]} ({in_shapes[0].size} values) to {out} "
                         f"({out.size} values)")
    return out


# ---- builders ------------------------------------------------------------------------------

def init_weight(weight, fan_in, he):
    """He (variance 2/fan-in) before relu-like activations, Xavier (variance 1/fan-in) otherwise."""
    if weight.is_meta:  # counting parameters: nothing to draw (and meta normal_ imports torch._dynamo, slowly)
        return
    with torch.no_grad():
        weight.normal_(0.0, math.sqrt((2.0 if he else 1.0) / fan_in))


def _zero_bias(module):
    if getattr(module, "bias", None) is not None:
        with torch.no_grad():
            module.bias.zero_()


def _build_linear(p, in_shapes, out, he):
    layer = modules.Dense(in_shapes[0].size, p["output-size"])
    init_weight(layer.weight, in_shapes[0].size, he)
    _zero_bias(layer)
    return layer


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
    _zero_bias(layer)
    return layer


def _build_depthwise(p, in_shapes, out, he):
    pad, extra = _conv_padding(in_shapes[0], p)
    channels = in_shapes[0].channels
    layer = modules.Conv(channels, channels * p["multiplier"], p["kernel"], p["stride"], pad, groups=channels,
                 extra=extra)
    init_weight(layer.weight, p["kernel"] ** 2, he)
    _zero_bias(layer)
    return layer


def _build_separable(p, in_shapes, out, he):
    pad, extra = _conv_padding(in_shapes[0], p)
    channels = in_shapes[0].channels
    layer = modules.SeparableConv(channels, p["num-kernels"], p["kernel"], p["stride"], pad, extra)
    init_weight(layer.depthwise.weight, p["kernel"] ** 2, False)
    init_weight(layer.pointwise.weight, channels, he)
    _zero_bias(layer.pointwise)
    return layer


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
    out = -((size + 2 * pad - k) // -s) + 1
    if (out - 1) * s >= size + pad:
        out -= 1
    return out


def _build_batch_norm(p, in_shapes, out, he):
    # Cortex keeps running = 0.9·running + 0.1·batch: torch's momentum is the 0.1.
    momentum = 1.0 - p["ave-factor"]
    if in_shapes[0].image:
        return nn.BatchNorm2d(in_shapes[0].channels, eps=p["epsilon"], momentum=momentum)
    return nn.BatchNorm1d(in_shapes[0].size, eps=p["epsilon"], momentum=momentum)


def _simple(make):
    def build(p, in_shapes, out, he):
        return make(p, in_shapes)
    return build


def _torch(name, **kwargs):
    def make(p, in_shapes):
            return getattr(nn, name)(**kwargs)
    return _simple(make)


def _own(name, *fields):
    def make(p, in_shapes):
        from nnrun.network import modules
        return getattr(modules, name)(*(p[f] for f in fields))
    return _simple(make)


# ---- the vocabulary ------------------------------------------------------------------------

KERNEL_PAD_STRIDE = (Arg("kernel", a.positive_int), Arg("pad", a.pad_or_same, 0),
                     Arg("stride", a.positive_int, 1))

register(LayerType(
    "input", (Arg("width", a.positive_int), Arg("height", a.positive_int, 1),
              Arg("channels", a.positive_int, 1)),
    shape=_input_shape, parents="none",
    doc="A data stream: width [height channels]; its id names the stream."))
register(LayerType(
    "linear", (Arg("output-size", a.positive_int),),
    shape=lambda p, s: Shape.vector(p["output-size"]), build=_build_linear,
    cost=lambda p, s, out: s[0].size * out.size,
    doc="Fully connected: output-size (an image input is flattened)."))
register(LayerType(
    "convolutional", KERNEL_PAD_STRIDE + (Arg("num-kernels", a.positive_int),),
    shape=lambda p, s: _spatial(s[0], p, p["num-kernels"], "convolutional", conv_size),
    build=_build_conv, cost=lambda p, s, out: out.size * p["kernel"] ** 2 * s[0].channels, doc="kernel pad stride num-kernels; output rounds down; pad may be \"same\"."))
register(LayerType(
    "depthwise-convolutional", KERNEL_PAD_STRIDE + (Arg("multiplier", a.positive_int, 1),),
    shape=lambda p, s: _spatial(s[0], p, s[0].channels * p["multiplier"], "depthwise-convolutional",
                                conv_size),
    build=_build_depthwise, cost=lambda p, s, out: out.size * p["kernel"] ** 2,
    doc="One kernel per input channel: kernel pad stride [multiplier]."))
register(LayerType(
    "separable-convolutional", KERNEL_PAD_STRIDE + (Arg("num-kernels", a.positive_int),),
    shape=lambda p, s: _spatial(s[0], p, p["num-kernels"], "separable-convolutional", conv_size),
    build=_build_separable, doc="Depthwise then 1×1 pointwise convolution (Xception).",
    cost=lambda p, s, out: out.height * out.width * s[0].channels * (p["kernel"] ** 2 + p["num-kernels"])))
for _name, _op in (("max-pooling", "max"), ("average-pooling", "avg")):
    register(LayerType(
        _name, KERNEL_PAD_STRIDE + (Arg("pool-op", a.choice("max", "avg", "avg-exc-pad"), _op),),
        shape=lambda p, s, _n=_name: _spatial(s[0], p, s[0].channels, _n, pool_size),
        build=_build_pool, transparent=True,
        doc="kernel pad stride; output rounds UP; pool-op max, avg (padding counted), avg-exc-pad."))
register(LayerType(
    "global-average-pooling", shape=lambda p, s: Shape.vector(_image(s[0], "global-average-pooling").channels),
    build=_own("GlobalAveragePooling"), transparent=True, doc="Mean of each channel: image -> vector."))
register(LayerType(
    "up-sampling", (Arg("scale", a.positive_int, 2), Arg("mode", a.choice("nearest", "bilinear"), "nearest")),
    shape=lambda p, s: Shape.picture(_image(s[0], "up-sampling").channels, s[0].height * p["scale"],
                                     s[0].width * p["scale"]),
    build=_own("UpSampling", "scale", "mode"), transparent=True, doc="Repeat pixels: scale [mode]."))
register(LayerType(
    "flatten", shape=lambda p, s: Shape.vector(s[0].size), build=_torch("Flatten"), transparent=True,
    doc="Image -> vector."))
register(LayerType(
    "reshape", (Arg("width", a.positive_int), Arg("height", a.positive_int, 1),
                Arg("channels", a.positive_int, 1)),
    shape=_reshape_shape, build=lambda p, s, out, he: modules.Reshape(out.batch_dims()),
    transparent=True, doc="Same values, new shape: width [height channels]."))
register(LayerType(
    "dropout", (Arg("probability", a.keep_probability),),
    shape=_one, build=_simple(lambda p, s: nn.Dropout(1.0 - p["probability"])),
    transparent=True, doc="Inverted dropout, training only; takes the KEEP probability."))
register(LayerType(
    "multiplicative-dropout", (Arg("variance", a.non_negative_number),),
    shape=_one, build=_own("MultiplicativeDropout", "variance"), transparent=True,
    doc="Multiplies by N(1, variance) noise in training."))
register(LayerType(
    "batch-normalization", (Arg("ave-factor", a.fraction, 0.9), Arg("epsilon", a.positive_number, 1e-4)),
    shape=_one, build=_build_batch_norm, transparent=True,
    doc="Per feature, or per channel for images; running-average factor 0.9, epsilon 1e-4."))
register(LayerType(
    "local-response-normalization",
    (Arg("k", a.non_negative_number, 2.0), Arg("n", a.positive_int, 5), Arg("alpha", a.non_negative_number, 1e-4),
     Arg("beta", a.non_negative_number, 0.75)),
    shape=lambda p, s: _image(s[0], "local-response-normalization"),
    build=_simple(lambda p, s: nn.LocalResponseNorm(p["n"], p["alpha"], p["beta"], p["k"])),
    transparent=True, doc="Across channels: k 2, n 5, alpha 1e-4, beta 0.75."))

ACTIVATIONS = {
    "relu": _torch("ReLU"), "logistic": _torch("Sigmoid"), "tanh": _torch("Tanh"),
    "swish": _torch("SiLU"), "selu": _torch("SELU"), "softmax": _own("Softmax"),
}
FUSED_LOSSES = {"softmax": "cross-entropy", "logistic": "binary-cross-entropy"}
for _name, _build in ACTIVATIONS.items():
    register(LayerType(_name, shape=_one, build=_build, activation=_name, fused_loss=FUSED_LOSSES.get(_name),
                       doc=f"{_name} activation."))
register(LayerType(
    "prelu", shape=_one, activation="prelu",
    build=_simple(lambda p, s: nn.PReLU(_per_channel(s[0]), 0.25)),
    doc="Learned slope per channel (per feature for vectors), starting at 0.25."))
register(LayerType(
    "leaky-relu", (Arg("alpha", a.non_negative_number, 0.01),), shape=_one,
    activation="leaky-relu", build=_simple(lambda p, s: nn.LeakyReLU(p["alpha"])),
    doc="max(x, alpha·x); alpha 0.01."))
for _act in ("relu", "softmax", "tanh", "logistic", "swish", "selu"):
    register(LayerType(f"linear->{_act}", (Arg("output-size", a.positive_int),),
                       expands_to=("linear", _act), doc=f"linear then {_act}; an id goes to the {_act}."))
register(LayerType(
    "concatenate", shape=_concat_shape, build=_own("Concatenate"), parents="many",
    doc="Joins the parents along features or channels."))
register(LayerType(
    "join", (Arg("operation", a.choice("+", "*"), "+"),), shape=_join_shape, build=_own("Join", "operation"),
    parents="many", doc="Element-wise + (residual) or * of the parents."))
register(LayerType(
    "split", shape=_one, transparent=True, doc="A fan-out point: passes its input on."))

# Activations after which weights start He-initialised.
HE_ACTIVATIONS = {"relu", "swish", "prelu", "leaky-relu"}
