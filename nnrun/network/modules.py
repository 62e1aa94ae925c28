"""The torch modules behind layers that torch.nn does not offer with Cortex's semantics."""
import math

import torch
import torch.nn.functional as F
from torch import nn


class Dense(nn.Linear):
    """A linear layer that flattens an image input first, as Cortex's `linear` does."""

    def forward(self, x):
        if x.dim() > 2:
            x = x.flatten(1)
        return F.linear(x, self.weight, self.bias)


def same_padding(size, kernel, stride):
    """(before, after) padding so the output is ceil(size / stride), TensorFlow's "same"."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class Conv(nn.Conv2d):
    """A square convolution; `extra` is asymmetric (left, right, top, bottom) padding for "same"."""

    def __init__(self, *args, extra=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.extra = tuple(extra) if extra and any(extra) else None

    def forward(self, x):
        if self.extra:
            x = F.pad(x, self.extra)
        return super().forward(x)


class CortexPool(nn.Module):
    """Pooling whose output size rounds *up*: ceil((in + 2·pad − kernel) / stride) + 1.

    torch's ceil_mode drops a last window that would start in the padding; Cortex keeps it, so
    when the two disagree we pad explicitly (−inf for max, zeros for average) and pool without
    padding. `op`: "max", "avg" (padding counted in the mean) or "avg-exc-pad".
    """

    def __init__(self, kernel, stride, pads, op):
        super().__init__()
        self.kernel, self.stride, self.op = kernel, stride, op
        self.pads = tuple(pads)  # left, right, top, bottom

    def forward(self, x):
        if self.op == "max":
            if not any(self.pads):
                return F.max_pool2d(x, self.kernel, self.stride)
            out = F.max_pool2d(F.pad(x, self.pads, value=-math.inf), self.kernel, self.stride)
            # Rounding up can leave a last window wholly in the padding: 0 there (as Cortex's
            # zero-padded CPU pooling gives), never −inf.
            ones = torch.ones(1, 1, *x.shape[2:], dtype=x.dtype, device=x.device)
            empty = F.max_pool2d(F.pad(ones, self.pads, value=-math.inf), self.kernel, self.stride) < 0
            return out.masked_fill(empty, 0.0)
        padded = F.pad(x, self.pads) if any(self.pads) else x
        total = F.avg_pool2d(padded, self.kernel, self.stride)
        if self.op == "avg" or not any(self.pads):
            return total
        ones = torch.ones(1, 1, *x.shape[2:], dtype=x.dtype, device=x.device)
        share = F.avg_pool2d(F.pad(ones, self.pads), self.kernel, self.stride)
        return total / share.clamp_min(1.0 / (self.kernel * self.kernel))

    def extra_repr(self):
        return f"kernel={self.kernel}, stride={self.stride}, pads={self.pads}, op={self.op}"


class Softmax(nn.Module):
    """Softmax over features (vectors) or channels (images)."""

    def forward(self, x):
        return torch.softmax(x, dim=1)


class MultiplicativeDropout(nn.Module):
    """Multiplies by noise drawn from N(1, variance) while training (Gaussian dropout)."""

    def __init__(self, variance):
        super().__init__()
        self.std = math.sqrt(variance)

    def forward(self, x):
        if not self.training or self.std == 0:
            return x
        return x * (1 + self.std * torch.randn_like(x))


class Join(nn.Module):
    """Element-wise sum or product of the parents (a residual connection)."""

    def __init__(self, operation):
        super().__init__()
        self.operation = operation

    def forward(self, *xs):
        out = xs[0]
        for x in xs[1:]:
            out = out + x if self.operation == "+" else out * x
        return out


class Concatenate(nn.Module):
    """Joins the parents along features (vectors) or channels (images)."""

    def forward(self, *xs):
        return torch.cat(xs, dim=1)


class GlobalAveragePooling(nn.Module):
    def forward(self, x):
        return x.mean(dim=(2, 3))


class Reshape(nn.Module):
    def __init__(self, dims):
        super().__init__()
        self.dims = tuple(dims)

    def forward(self, x):
        return x.reshape(x.shape[0], *self.dims)


class UpSampling(nn.Module):
    def __init__(self, scale, mode):
        super().__init__()
        self.scale, self.mode = scale, mode

    def forward(self, x):
        if self.mode == "nearest":
            return F.interpolate(x, scale_factor=self.scale, mode="nearest")
        return F.interpolate(x, scale_factor=self.scale, mode="bilinear", align_corners=False)


class SeparableConv(nn.Module):
    """Depthwise convolution (one kernel per input channel) followed by a 1×1 pointwise one."""

    def __init__(self, channels, kernels, kernel, stride, pad, extra):
        super().__init__()
        self.depthwise = Conv(channels, channels, kernel, stride, pad, groups=channels, bias=False,
                              extra=extra)
        self.pointwise = nn.Conv2d(channels, kernels, 1)

    def forward(self, x):
        return self.pointwise(self.depthwise(x))


class ColumnEmbedding(nn.Module):
    """The `embedding` layer (nnrun/network/layers/tabular.py): a table row -> the numbers' and
    the categories' vectors, concatenated."""

    def __init__(self, levels, categories, numbers, frequencies, number_size, frequency_scale, clip):
        super().__init__()
        number_index = [j for j, codes in enumerate(levels) if codes == 0]
        # indices into the row: constants of the graph, not weights (so not in the state dict)
        self.register_buffer("number_index", torch.tensor(number_index, dtype=torch.long), persistent=False)
        self.register_buffer("category_index", torch.tensor([j for j, _, _ in categories], dtype=torch.long),
                             persistent=False)
        self.codes = [codes for _, codes, _ in categories]
        self.clip = float(clip)
        self.tables = nn.ModuleList(nn.Embedding(codes, size) for _, codes, size in categories)
        self.periodic = numbers == "periodic" and len(number_index) > 0
        if self.periodic:
            count = len(number_index)
            self.frequencies = nn.Parameter(torch.randn(count, frequencies) * frequency_scale)
            bound = 1.0 / math.sqrt(2 * frequencies)
            self.weight = nn.Parameter(torch.empty(count, 2 * frequencies, number_size).uniform_(-bound, bound))
            self.bias = nn.Parameter(torch.empty(count, number_size).uniform_(-bound, bound))

    def forward(self, x):
        parts = []
        if self.number_index.numel():
            v = x.index_select(1, self.number_index)
            if self.clip > 0:
                v = v / torch.sqrt(1.0 + (v / self.clip) ** 2)
            if self.periodic:
                angle = (2 * math.pi) * v.unsqueeze(-1) * self.frequencies
                waves = torch.cat([torch.sin(angle), torch.cos(angle)], dim=-1)
                v = torch.relu(torch.einsum("bfk,fkd->bfd", waves, self.weight) + self.bias).flatten(1)
            parts.append(v)
        if self.tables:
            codes = x.index_select(1, self.category_index).round().long()
            for j, table in enumerate(self.tables):
                parts.append(table(codes[:, j].clamp(0, self.codes[j] - 1)))
        return torch.cat(parts, dim=1)
