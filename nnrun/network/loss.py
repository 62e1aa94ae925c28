"""The loss of each leaf, as Cortex chooses it: softmax -> cross-entropy, anything else -> mean
squared error; a leaf may name its own (`loss: quadratic`). Gradients are averaged over the batch.

`mse` averages over every value; `quadratic` is ½·Σ(a−y)² per sample, averaged over the batch
(the from-scratch network's cost, whose output error is (a − y)·σ'(z)).
"""
import torch
import torch.nn.functional as F


def as_target(target, output):
    """Class indices become one-hot rows for losses that compare values; images take the output's shape."""
    if target.dtype in (torch.int64, torch.int32, torch.uint8) and target.dim() == 1 and output.dim() == 2:
        return F.one_hot(target.long(), output.shape[1]).to(output.dtype)
    if target.shape != output.shape:
        target = target.reshape(output.shape)
    return target.to(output.dtype)


def leaf_loss(kind, output, target, from_logits):
    """The batch-mean loss of one leaf. `from_logits`: `output` is pre-softmax/pre-sigmoid."""
    if kind == "cross-entropy":
        if from_logits:
            if target.dim() == 1:
                return F.cross_entropy(output, target.long())
            return F.cross_entropy(output, as_target(target, output))
        return -(as_target(target, output) * output.clamp_min(1e-12).log()).flatten(1).sum(1).mean()
    target = as_target(target, output)
    if kind == "binary-cross-entropy":
        if from_logits:
            return F.binary_cross_entropy_with_logits(output, target)
        return F.binary_cross_entropy(output.clamp(1e-12, 1 - 1e-12), target)
    if kind == "quadratic":
        return 0.5 * (output - target).pow(2).flatten(1).sum(1).mean()
    if kind == "mse":
        return F.mse_loss(output, target)
    raise ValueError(f"unknown loss {kind}")
