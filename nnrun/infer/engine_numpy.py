"""A lean CPU engine: the forward pass of common layers in numpy, without importing torch.

Why it exists: `import torch` costs about two seconds on a small machine, more than the whole
of a 500-image submission otherwise takes. For networks made only of the layers below, this
engine computes what the torch modules compute (float32, within rounding: tests compare the two
on every supported layer). Anything else (depthwise/separable convolutions, local response
normalisation, bilinear up-sampling, several inputs) makes `supports` say why, and the torch
engine runs instead. It runs the plan's nodes in order, as `Network.run` does, so graphs with
join/concatenate work too. Inference only: dropout is the identity, batch normalisation uses the
running statistics.
"""
import math
from dataclasses import dataclass

import numpy as np

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
CONV_BLOCK_BYTES = 4 << 20   # im2col columns per block: keep them in cache


def supports(plan):
    """None when this engine can run `plan`, else the reason it cannot (for --engine numpy)."""
    if len(plan.inputs) != 1:
        return f"the network has {len(plan.inputs)} inputs"
    for node in plan.nodes:
        if node.layer not in _OPS:
            return f"layer {node.layer} ({node.place}) has no numpy implementation"
        if node.layer == "up-sampling" and node.args.get("mode") != "nearest":
            return f"{node.place}: bilinear up-sampling has no numpy implementation"
    return None


@dataclass
class Step:
    """What the engine needs of a plan node, in plain values (so it pickles without the planner)."""
    id: str
    parents: tuple
    layer: str
    args: dict
    place: str
    in_shapes: tuple               # nnrun.network.shape.Shape
    out_shape: object

    @classmethod
    def of(cls, node):
        return cls(node.id, tuple(node.parents), node.layer, dict(node.args), node.place, tuple(node.in_shapes),
                   node.out_shape)


class NumpyEngine:
    """Runs a plan on numpy arrays. `state`: the network's state dict as numpy arrays."""

    name = "numpy"

    def __init__(self, plan, state, preprocessing):
        reason = supports(plan)
        if reason:
            raise ValueError(reason)
        self.plan = plan
        self._build([Step.of(node) for node in plan.nodes], state, preprocessing)

    @classmethod
    def from_steps(cls, steps, state, preprocessing):
        """The engine of `steps` (another engine's .steps, say), without a plan."""
        engine = cls.__new__(cls)
        engine.plan = None
        engine._build(steps, state, preprocessing)
        return engine

    def _build(self, steps, state, preprocessing):
        self.steps = steps
        self.preprocessing = preprocessing
        self.state = state        # as given (handoff.py shares it with image workers)
        self.scale, self.shift = preprocessing.scale_and_shift()
        consumers = {step.id: 0 for step in steps}
        for step in steps:
            for parent in step.parents:
                consumers[parent] += 1
        self._consumers = consumers
        by_id = {step.id: step for step in steps}
        params, used = {}, set()
        for step in steps:
            prefix = f"layers.{step.id.replace('.', '_')}."
            mine = [k for k in state if k.startswith(prefix)]
            used.update(mine)
            params[step.id] = {k[len(prefix):]: np.ascontiguousarray(state[k], dtype=np.float32)
                               for k in mine if not k.endswith("num_batches_tracked")}
        unused = sorted(set(state) - used)
        if unused:
            raise ValueError(f"unexpected weights {', '.join(unused[:5])}")
        # A convolution whose only consumer is a max pooling adds its bias after the pooling, on a
        # tensor k² times smaller: max(x + b) = max(x) + b, exactly, for a bias per channel.
        self._unfinished = set()
        later_bias = {}
        for step in steps:
            if step.layer == "max-pooling" and len(step.parents) == 1:
                source = by_id[step.parents[0]]
                if source.layer == "convolutional" and consumers[source.id] == 1 and "bias" in params[source.id]:
                    later_bias[step.id] = params[source.id].pop("bias")
                    self._unfinished.add(source.id)
        self._steps = []
        for step in steps:
            op = _OPS[step.layer](step, params[step.id])
            if step.id in later_bias:
                op = _then_add_channel_bias(op, later_bias[step.id])
            # An activation may overwrite its input when nothing else reads it (one fresh array
            # less per layer, and the next layer finds its input still in cache).
            in_place = (step.layer in _IN_PLACE and len(step.parents) == 1
                        and by_id[step.parents[0]].layer in _FRESH and consumers[step.parents[0]] == 1)
            self._steps.append((step.id, step.parents, op, in_place))

    def run(self, stored, leaves):
        """Stored values (uint8 images / float32 rows, a batch) -> {leaf id: float32 output}."""
        wanted = set(leaves)
        if wanted & self._unfinished:
            raise ValueError(f"{', '.join(sorted(wanted & self._unfinished))}: not kept (its bias is added later)")
        x = np.asarray(stored)
        x = x.astype(np.float32) * self.scale + self.shift
        values = {}
        waiting = dict(self._consumers)
        for ident, parents, op, in_place in self._steps:
            if not parents:
                values[ident] = op(x)
                continue
            inputs = [values[p] for p in parents]
            if in_place and parents[0] not in wanted:
                values[ident] = op(inputs[0], out=inputs[0])
            else:
                values[ident] = op(*inputs)
            del inputs
            for parent in parents:  # let go of what no later layer reads
                waiting[parent] -= 1
                if waiting[parent] == 0 and parent not in wanted:
                    del values[parent]
        return {leaf: values[leaf] for leaf in leaves}


def _then_add_channel_bias(op, bias):
    def run(x):
        y = op(x)
        y += bias.reshape(_channel_shape(y))
        return y
    return run


# ---- one maker per layer type: (a Step, params) -> function of the parents' values -------------

def _input(node, params):
    dims = node.out_shape.batch_dims()

    def run(x):
        return x if tuple(x.shape[1:]) == dims else x.reshape(x.shape[0], *dims)
    return run


def _identity(node, params):
    return lambda x: x


def _expect(node, params, name, shape):
    if name not in params:
        raise KeyError(f"{node.place} has no {name}")
    if params[name].shape != tuple(shape):
        raise ValueError(f"{node.place}: {name} is {list(params[name].shape)}, the plan wants {list(shape)}")
    return params[name]


def _linear(node, params):
    weight = _expect(node, params, "weight", (node.out_shape.size, node.in_shapes[0].size))
    weight_t = weight.T  # BLAS reads the transposed view as it is: no copy
    bias = params.get("bias")

    def run(x):
        y = x.reshape(x.shape[0], -1) @ weight_t
        if bias is not None:
            y += bias
        return y
    return run


def same_padding(size, kernel, stride):
    """(before, after) for TensorFlow's "same" (as nnrun.network.modules.same_padding)."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _pads(node, cortex_pool):
    """(top, bottom, left, right) padding; bottom/right may be negative (crop) for pooling."""
    src, out = node.in_shapes[0], node.out_shape
    k, s, pad = node.args["kernel"], node.args["stride"], node.args["pad"]
    if pad == "same":
        top, bottom = same_padding(src.height, k, s)
        left, right = same_padding(src.width, k, s)
        return top, bottom, left, right
    if not cortex_pool:
        return pad, pad, pad, pad
    # Pooling rounds up: pad after the input so the last window fits (Cortex's rule).
    return pad, (out.height - 1) * s + k - src.height - pad, pad, (out.width - 1) * s + k - src.width - pad


def _pad(x, pads, value):
    top, bottom, left, right = pads
    if bottom < 0:
        x, bottom = x[:, :, :bottom], 0
    if right < 0:
        x, right = x[:, :, :, :right], 0
    if top or bottom or left or right:
        x = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=value)
    return x


def _patches(x, k, s, ho, wo):
    """A read-only view [N, C, k, k, ho, wo] of x [N, C, H, W]: [n, c, i, j] is the (i, j) tap of
    every output position. One copy of it is the im2col matrix (one numpy call instead of k²)."""
    n, c, sh, sw = x.strides
    return np.lib.stride_tricks.as_strided(x, (x.shape[0], x.shape[1], k, k, ho, wo), (n, c, sh, sw, s * sh, s * sw),
                                           writeable=False)


def _conv(node, params):
    k = node.args["kernel"]
    out_c, in_c = node.out_shape.channels, node.in_shapes[0].channels
    weight, bias = _expect(node, params, "weight", (out_c, in_c, k, k)), params.get("bias")
    s = node.args["stride"]
    pads = _pads(node, cortex_pool=False)
    ho, wo = node.out_shape.height, node.out_shape.width
    w2 = np.ascontiguousarray(weight.reshape(out_c, in_c * k * k))
    per_item = in_c * k * k * ho * wo * 4
    block = max(1, CONV_BLOCK_BYTES // per_item)

    def run(x):
        x = _pad(x, pads, 0.0)
        n = x.shape[0]
        y = np.empty((n, out_c, ho * wo), np.float32)
        if k == 1 and s == 1:
            np.matmul(w2, x.reshape(n, in_c, ho * wo), out=y)
        else:
            cols = np.empty((min(block, n), in_c, k, k, ho, wo), np.float32)
            for start in range(0, n, block):
                part = x[start:start + block]
                c = cols[:len(part)]
                np.copyto(c, _patches(part, k, s, ho, wo))
                np.matmul(w2, c.reshape(len(part), in_c * k * k, ho * wo), out=y[start:start + len(part)])
        if bias is not None:
            y += bias[:, None]
        return y.reshape(n, out_c, ho, wo)
    return run


def _pool(node, params):
    k, s, op = node.args["kernel"], node.args["stride"], node.args["pool-op"]
    pads = _pads(node, cortex_pool=True)
    ho, wo = node.out_shape.height, node.out_shape.width

    def run(x):
        if op == "max":
            return _separable(_pad(x, pads, -np.inf), k, s, ho, wo, np.maximum)
        total = _separable(_pad(x, pads, 0.0), k, s, ho, wo, np.add)
        if op == "avg" or not any(pads):
            return total / np.float32(k * k)
        ones = _pad(np.ones((1, 1) + x.shape[2:], np.float32), pads, 0.0)
        share = _separable(ones, k, s, ho, wo, np.add) / np.float32(k * k)
        return total / (np.float32(k * k) * np.maximum(share, np.float32(1.0 / (k * k))))
    return run


def _separable(x, k, s, ho, wo, combine):
    """combine (max or add) over every k × k window at stride s: first down the rows, then
    across the columns (2k passes instead of k², and the first reads whole rows)."""
    rows = _fold([x[:, :, i:i + s * (ho - 1) + 1:s, :] for i in range(k)], combine)
    return _fold([rows[:, :, :, j:j + s * (wo - 1) + 1:s] for j in range(k)], combine)


def _fold(views, combine):
    """combine(combine(v0, v1), v2)...: a fresh array from the first two, the rest into it."""
    if len(views) == 1:
        return views[0].copy()
    out = combine(views[0], views[1])
    for view in views[2:]:
        combine(out, view, out=out)
    return out


def _global_average(node, params):
    return lambda x: x.mean(axis=(2, 3))


def _up_sampling(node, params):
    scale = node.args["scale"]
    return lambda x: x.repeat(scale, axis=2).repeat(scale, axis=3)


def _flatten(node, params):
    return lambda x: x.reshape(x.shape[0], -1)


def _reshape(node, params):
    dims = node.out_shape.batch_dims()
    return lambda x: x.reshape(x.shape[0], *dims)


def _channel_shape(x):
    return (1, -1) + (1,) * (x.ndim - 2)


def _batch_norm(node, params):
    eps = node.args["epsilon"]
    scale = params["weight"] / np.sqrt(params["running_var"] + np.float32(eps))
    shift = params["bias"] - params["running_mean"] * scale

    def run(x):
        shape = _channel_shape(x)
        return x * scale.reshape(shape) + shift.reshape(shape)
    return run


def _relu(node, params):
    return lambda x, out=None: np.maximum(x, np.float32(0), out=out)


def _logistic(node, params):
    def run(x, out=None):
        y = np.multiply(x, np.float32(0.5), out=out)
        np.tanh(y, out=y)
        y += np.float32(1)
        y *= np.float32(0.5)
        return y
    return run


def _tanh(node, params):
    return lambda x, out=None: np.tanh(x, out=out)


def _swish(node, params):
    return lambda x: x * (np.float32(0.5) * (np.float32(1) + np.tanh(np.float32(0.5) * x)))


def _selu(node, params):
    def run(x):
        negative = np.float32(SELU_ALPHA) * np.expm1(np.minimum(x, np.float32(0)))
        return np.float32(SELU_SCALE) * np.where(x > 0, x, negative)
    return run


def _softmax(node, params):
    def run(x):
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    return run


def _leaky_relu(node, params):
    alpha = np.float32(node.args["alpha"])
    return lambda x: np.where(x >= 0, x, alpha * x)


def _prelu(node, params):
    slope = params["weight"]

    def run(x):
        a = slope.reshape(_channel_shape(x)) if slope.size > 1 else slope.reshape(())
        return np.where(x >= 0, x, a * x)
    return run


def _join(node, params):
    operation = node.args.get("operation", "+")

    def run(*xs):
        out = xs[0]
        for x in xs[1:]:
            out = out + x if operation == "+" else out * x
        return out
    return run


def _concatenate(node, params):
    return lambda *xs: np.concatenate(xs, axis=1)


# Activations that can write over their input (they take out=), and the layers whose output is
# a fresh array of their own (never a view of another layer's value) that may be written over.
_IN_PLACE = {"relu", "logistic", "tanh"}
_FRESH = {"convolutional", "linear", "max-pooling", "average-pooling", "batch-normalization", "concatenate",
          "global-average-pooling", "up-sampling"}

_OPS = {
    "input": _input, "linear": _linear, "convolutional": _conv,
    "max-pooling": _pool, "average-pooling": _pool, "global-average-pooling": _global_average,
    "up-sampling": _up_sampling, "flatten": _flatten, "reshape": _reshape,
    "split": _identity, "dropout": _identity, "multiplicative-dropout": _identity, "batch-normalization": _batch_norm,
    "relu": _relu, "logistic": _logistic, "tanh": _tanh, "swish": _swish, "selu": _selu,
    "softmax": _softmax, "leaky-relu": _leaky_relu, "prelu": _prelu,
    "join": _join, "concatenate": _concatenate,
}
