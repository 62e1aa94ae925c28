"""The training-loss options of a classifier and the weight average, from the `train` section.

  class-weights    cross-entropy with a weight per class: `balanced` gives class c the weight
                   n / (k · n_c) over the training split (the usual "balanced" rule), or a map
  label-smoothing  cross-entropy against (1 − ε)·one-hot + ε/k
  mixup, cutmix    each batch blended with a shuffled copy of itself: mixup mixes whole inputs
                   with λ ~ Beta(α, α); cutmix pastes a box of area 1 − λ from the copy (images);
                   the loss is λ·loss(y) + (1 − λ)·loss(y of the copy). With both on, each batch
                   takes one of them, evenly.
  ema              an exponential moving average of the weights, updated after every step,
                   which is what is evaluated and saved (the training weights go on training)

These apply to a label leaf trained by cross-entropy on logits (a softmax leaf); a config that
asks for them on another network is refused when training starts.
"""
import copy
import math

import numpy as np
import torch
import torch.nn.functional as F

from nnrun.errors import UserError

LOSS_KEYS = ("class-weights", "label-smoothing", "mixup", "cutmix")


def epoch_size(option, count):
    """`train.epoch-size`: a number of samples, {passes: N, at-least: M} over `count` examples
    (N passes, but never fewer than M samples, so a table of 300 rows still gets enough steps
    per epoch), or null (one pass)."""
    if option is None:
        return count
    if isinstance(option, dict):
        return max(1, min(max(round(option["passes"] * count), option.get("at-least") or 0), 2**31 - 1))
    return option


def uses_loss_options(train):
    return bool(train["class-weights"] or train["label-smoothing"] or train["mixup"] or train["cutmix"])


def class_weights(option, classes, labels):
    """The weight per class index (float64 numpy), or None; UserError for an unknown class name."""
    if option is None:
        return None
    k = len(classes)
    if option == "balanced":
        counts = np.bincount(labels, minlength=k).astype(np.float64)
        return np.where(counts > 0, len(labels) / (k * np.maximum(counts, 1)), 0.0)
    weights = np.ones(k)
    for name, weight in option.items():
        if name not in classes:
            raise UserError(f'train.class-weights.{name}: not a class (the classes: {", ".join(classes)})')
        weights[classes.index(name)] = weight
    return weights


def check_leaf(task, train):
    """UserError when the loss options are asked of a network they do not fit."""
    leaves = task.leaves
    if len(leaves) != 1 or leaves[0].target is not None or leaves[0].loss != "cross-entropy" \
            or not leaves[0].from_logits:
        asked = ", ".join(f"train.{key}" for key in LOSS_KEYS if train[key])
        raise UserError(f"{asked}: for a network with one softmax leaf trained by cross-entropy")


def _box(h, w, lam, generator, device):
    """Cutmix boxes: per batch one box of area ≈ (1 − λ)·h·w at a random centre, clipped to the
    image; returns the mask [1, 1, h, w] (True: from the copy) and λ corrected to the true area."""
    cut = math.sqrt(1 - lam)
    ch, cw = int(h * cut), int(w * cut)
    cy = int(torch.randint(0, h, (1,), generator=generator))
    cx = int(torch.randint(0, w, (1,), generator=generator))
    top, bottom = max(cy - ch // 2, 0), min(cy + ch // 2, h)
    left, right = max(cx - cw // 2, 0), min(cx + cw // 2, w)
    mask = torch.zeros((1, 1, h, w), dtype=torch.bool, device=device)
    mask[..., top:bottom, left:right] = True
    return mask, 1 - (bottom - top) * (right - left) / (h * w)


class Mixer:
    """Draws mixup / cutmix for a batch: (mixed x, permutation, λ), or (x, None, 1)."""

    def __init__(self, mixup, cutmix, seed):
        self.mixup, self.cutmix = mixup, cutmix
        self.generator = torch.Generator()  # on the CPU: a few numbers per batch
        self.generator.manual_seed(int(seed))

    def draw(self, x):
        kinds = [k for k, alpha in (("mixup", self.mixup), ("cutmix", self.cutmix)) if alpha > 0]
        if len(kinds) == 2:
            kinds = [kinds[int(torch.randint(0, 2, (1,), generator=self.generator))]]
        kind = kinds[0]
        alpha = self.mixup if kind == "mixup" else self.cutmix
        lam = beta_sample(alpha, self.generator)
        order = torch.randperm(len(x), generator=self.generator).to(x.device)
        if kind == "mixup" or x.dim() != 4:
            return x * lam + x[order] * (1 - lam), order, lam
        mask, lam = _box(x.shape[2], x.shape[3], lam, self.generator, x.device)
        return torch.where(mask, x[order], x), order, lam

    def state_dict(self):
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state):
        self.generator.set_state(state["generator"].to(torch.uint8).cpu())


def beta_sample(alpha, generator):
    """One draw of Beta(α, α) as X / (X + Y), X and Y Gamma(α, 1) (torch's Beta takes no generator)."""
    x, y = (_gamma(alpha, generator) for _ in range(2))
    return x / (x + y) if x + y > 0 else 0.5


def _gamma(alpha, generator):
    """Gamma(α, 1) by Marsaglia and Tsang's method (α < 1 boosted by U^(1/α))."""
    boost = 1.0
    if alpha < 1:
        boost = float(torch.rand((), generator=generator)) ** (1 / alpha)
        alpha += 1
    d = alpha - 1 / 3
    c = 1 / math.sqrt(9 * d)
    while True:
        z = float(torch.randn((), generator=generator))
        v = (1 + c * z) ** 3
        if v <= 0:
            continue
        u = float(torch.rand((), generator=generator))
        if math.log(max(u, 1e-300)) < 0.5 * z * z + d - d * v + d * math.log(v):
            return d * v * boost


def loss_maker(session, batch, forward, targets):
    """index tensor -> the batch loss with the class weights, smoothing and mixing asked for."""
    train = session.spec.train
    weight = session.class_weights
    smoothing = train["label-smoothing"]
    mixer = session.mixer

    def criterion(output, y):
        return F.cross_entropy(output, y, weight=weight, label_smoothing=smoothing)

    def loss_of(index):
        x, _ = batch(index)
        y = targets(0, index)
        if mixer is None:
            output, penalty = forward(x)
            loss = criterion(output, y)
        else:
            x, order, lam = mixer.draw(x)
            output, penalty = forward(x)
            loss = criterion(output, y) * lam + criterion(output, y[order]) * (1 - lam)
        return loss if penalty is None else loss + penalty
    return loss_of


class WeightAverage:
    """An exponential moving average of a network's weights (buffers, e.g. batch-norm statistics,
    are copied as they are): after each step, average ← decay·average + (1 − decay)·weights."""

    def __init__(self, network, decay):
        self.decay = decay
        self.network = network
        self.module = copy.deepcopy(network)
        self.module.eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
        self._pairs()

    def _pairs(self):
        self.averaged = [p for p in self.module.parameters()]
        self.live = [p for p in self.network.parameters()]
        self.buffers = list(zip(self.module.buffers(), self.network.buffers()))

    @torch.no_grad()
    def update(self):
        torch._foreach_lerp_(self.averaged, [p.detach() for p in self.live], 1 - self.decay)
        for mine, theirs in self.buffers:
            mine.copy_(theirs)
