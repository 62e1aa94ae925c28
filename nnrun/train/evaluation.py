"""Running a network over a whole split and measuring it.

`predict_split` gives the split's mean loss (exact: each batch's mean weighted by its size) and
the primary leaf's outputs for every example (probabilities in float64 for a softmax leaf, so
thresholds near 1 keep their resolution). `split_metrics` turns them into the metrics of
nnrun.train.metrics, computed once over the whole split. `evaluate` does both; `evaluate_outputs`
also hands back the outputs (the training loop records them).
"""
import contextlib
import math

import numpy as np
import torch

from nnrun.network.loss import leaf_loss
from nnrun.train import metrics as m


def to_outputs(leaf, value):
    """A leaf's training-time value (maybe logits) -> its outputs, float64 for a softmax."""
    if leaf.from_logits and leaf.activation == "softmax":
        return torch.softmax(value.double(), dim=1)
    if leaf.from_logits and leaf.activation == "logistic":
        return torch.sigmoid(value.double())
    return value.double() if value.dtype != torch.float64 else value


def batch_loss(task, outputs, labels_for, clean_input):
    """Σ over leaves of each leaf's batch-mean loss. `labels_for(leaf)` gives its label targets."""
    total = None
    for leaf in task.leaves:
        target = clean_input if leaf.target is not None else labels_for(leaf)
        value = leaf_loss(leaf.loss, outputs[leaf.id], target, from_logits=leaf.from_logits)
        total = value if total is None else total + value
    return total


def needs_one_hot(leaf):
    """Whether a label leaf's loss compares values (one-hot rows) rather than taking class indices."""
    return leaf.target is None and not (leaf.loss == "cross-entropy" and leaf.from_logits)


@torch.no_grad()
def predict_split(network, task, data, batch_size, autocast=None, world=None):
    """(mean loss, primary outputs [N, K] float64 numpy, or None for an autoencoder).

    In a parallel job (`world`) each rank runs a contiguous run of the same batches one process
    would, and every rank gets all of them back: the per-batch loss terms are summed in batch
    order and the outputs concatenated, so the result is the one-process result bit for bit."""
    was_training = network.training
    network.eval()
    starts = range(0, data.count, batch_size)
    if world is not None and world.parallel:
        starts = starts[len(starts) * world.rank // world.size:len(starts) * (world.rank + 1) // world.size]
    terms, keep = [], []
    try:
        for start in starts:
            stop = min(start + batch_size, data.count)
            x = data.input_range(start, stop)
            with autocast() if autocast is not None else contextlib.nullcontext():
                outputs, _ = network.run(x, logits=True)
                index = slice(start, stop)
                loss = batch_loss(task, outputs,
                                  lambda leaf: (data.one_hot[index] if needs_one_hot(leaf) else data.labels[index]),
                                  x)
            terms.append(loss.double() * (stop - start))
            if not task.autoencoder:
                keep.append(to_outputs(task.primary, outputs[task.primary.id]).cpu())
    finally:
        network.train(was_training)
    if world is not None and world.parallel:
        parts = world.gather(([t.cpu() for t in terms], keep))
        terms = [t.to(data.device) for part in parts for t in part[0]]
        keep = [o for part in parts for o in part[1]]
    total = torch.zeros((), dtype=torch.float64, device=data.device)
    for term in terms:  # in batch order, as one process adds them
        total += term
    loss = float(total) / max(data.count, 1)
    outputs = torch.cat(keep).numpy() if keep else None
    return loss, outputs


def split_metrics(task, loss, outputs, labels, threshold, count):
    """Metrics of one split. threshold: a number, "auto" (tune it here), or None."""
    if task.autoencoder or outputs is None:
        return {"count": int(count), "loss": loss}
    tune = None
    if threshold == "auto":
        tune = "accuracy" if task.metric == "accuracy" else "f-beta"
        threshold = None
    elif threshold == "calibrated":
        tune, threshold = "calibrated", None
    result = m.classification_metrics(outputs, labels, list(task.classes), positive=task.positive,
                                      beta=task.beta, threshold=threshold, tune_threshold=tune,
                                      odds_ratio=task.odds_ratio)
    return {"loss": loss, **result}


def evaluate(network, task, data, batch_size, threshold, autocast=None):
    return evaluate_outputs(network, task, data, batch_size, threshold, autocast)[0]


def evaluate_outputs(network, task, data, batch_size, threshold, autocast=None, world=None):
    """(metrics, outputs) in one pass: `outputs` is predict_split's [N, K] float64 array (None for
    an autoencoder), so the run record can keep each example's probabilities without a second pass.
    In a parallel job every rank gets the same metrics, computed once over the whole split."""
    loss, outputs = predict_split(network, task, data, batch_size, autocast, world)
    result = split_metrics(task, loss, outputs, data.labels_np, threshold, data.count)
    if not math.isfinite(loss):
        result["loss"] = None if math.isnan(loss) else loss
    return result, outputs


@torch.no_grad()
def denoising_metrics(network, data, batch_size, noise, seed=0):
    """For a denoising autoencoder: the mean squared error of its reconstruction of corrupted
    inputs against the clean ones, and the identity's (the corrupted input itself), under the same
    noise (`noise(x, generator)`, drawn from a fixed seed so epochs compare)."""
    generator = torch.Generator(device=data.device)
    generator.manual_seed(seed)
    network_error = torch.zeros((), dtype=torch.float64, device=data.device)
    identity_error = torch.zeros((), dtype=torch.float64, device=data.device)
    was_training = network.training
    network.eval()
    try:
        for start in range(0, data.count, batch_size):
            stop = min(start + batch_size, data.count)
            clean = data.input_range(start, stop)
            noisy = noise(clean, generator)
            out = network(noisy).reshape(clean.shape)
            network_error += (out.double() - clean.double()).pow(2).sum()
            identity_error += (noisy.double() - clean.double()).pow(2).sum()
    finally:
        network.train(was_training)
    values = max(data.count, 1) * max(int(np.prod(data.x_file.shape[1:])), 1)
    return {"denoising-mse": float(network_error) / values, "identity-mse": float(identity_error) / values}
