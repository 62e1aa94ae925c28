"""Training-batch augmentation, drawn fresh for every batch, in batches, on the training device.

Two stages, in this order, around the input preprocessing:

  stored units   (float copies of the stored values: table features as in the CSV, pixels 0..255)
                 variance-noise, gaussian-noise (tables); rotation, pixel-noise, mirror, shift,
                 crop, colour-shift, random-resized-crop (images)
  input units    (after preprocessing, what the network sees)
                 input-noise: the denoising autoencoder's corruption; a reconstruction target
                 is taken *before* this stage, so it stays clean

Evaluation never goes through here. Every draw uses the augmenter's own generator on the
device, so a run is reproducible from its seed and resumable from `state_dict()`.

The fraud write-up's variance noise, exactly: take the per-feature variance v of the chosen
class's training examples, scale it to s = v · scale / ‖v‖ (scale 5000), and add uniform noise
in [−s, +s) per feature to the examples of that class.
"""
import math

import numpy as np
import torch
import torch.nn.functional as F

from nnrun.errors import UserError

TABLE_ONLY = ("variance-noise", "gaussian-noise")
IMAGE_ONLY = ("rotation", "pixel-noise", "mirror", "shift", "crop", "colour-shift", "random-resized-crop")
INPUT_STAGE = ("input-noise",)


class Augmenter:
    """Applies a config's `train.augmentation` list to training batches."""

    def __init__(self, items, dataset, train_split, positive, device, seed):
        self.items = list(items or [])
        self.device = torch.device(device)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(int(seed))
        self.stored, self.inputs = [], []
        for index, item in enumerate(self.items):
            where = f"train.augmentation[{index}].{item['name']}"
            name = item["name"]
            if name in TABLE_ONLY and dataset.kind != "table":
                raise UserError(f"{where}: works on tables, but {dataset.path} holds images")
            if name in IMAGE_ONLY and dataset.kind != "images":
                raise UserError(f"{where}: works on images, but {dataset.path} holds a table")
            if name == "variance-noise":
                self.stored.append(self._variance_noise(item, dataset, train_split, positive, where))
            elif name == "gaussian-noise":
                self.stored.append(self._gaussian_noise(item, dataset))
            elif name in INPUT_STAGE:
                self.inputs.append(_bind(input_noise, item))
            else:
                self.stored.append(_bind(IMAGE_FUNCTIONS[name], item))

    @property
    def changes_stored(self):
        """Whether batches must be gathered raw (stored units) rather than preprocessed."""
        return bool(self.stored)

    def stored_units(self, x, y):
        """Augment a float batch of stored values (labels y pick per-class noise)."""
        for fn in self.stored:
            x = fn(x, y, self.generator)
        return x

    def input_units(self, x):
        for fn in self.inputs:
            x = fn(x, None, self.generator)
        return x

    def state_dict(self):
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state):
        self.generator.set_state(state["generator"].to(torch.uint8).cpu())

    # ---- tables
    def _variance_noise(self, item, dataset, train_split, positive, where):
        classes = dataset.classes
        if item.get("class") is not None:
            if item["class"] not in classes:
                raise UserError(f'{where}.class: "{item["class"]}" is not a class of {dataset.path} '
                                f'(its classes: {", ".join(classes)})')
            target = classes.index(item["class"])
        elif positive is not None:
            target = positive
        else:
            raise UserError(f"{where}: say which class to multiply (class: NAME) or set train.metric.positive")
        labels = dataset.y(train_split)
        rows = np.nonzero(labels == target)[0]
        if len(rows) < 2:
            raise UserError(f"{where}: class {classes[target]} has {len(rows)} training examples; "
                            f"its variance needs at least 2")
        values = np.asarray(dataset.x(train_split)[rows], dtype=np.float64)
        variance = values.var(axis=0, ddof=1)
        norm = float(np.linalg.norm(variance))
        spread = variance * (item["scale"] / norm) if norm > 0 else variance
        spread = torch.tensor(spread * _numbers(dataset), dtype=torch.float32, device=self.device)

        def apply(x, y, generator):
            noise = (torch.rand(x.shape, generator=generator, device=x.device) * 2 - 1) * spread
            return x + noise * (y == target).unsqueeze(1).to(x.dtype)
        return apply

    def _gaussian_noise(self, item, dataset):
        stats = dataset.normalisation or {}
        std = np.asarray(stats.get("std") or [1.0] * len(dataset.features or [1]), dtype=np.float64)
        std = np.where(std > 0, std, 1.0) * item["std"]
        scale = torch.tensor(std * _numbers(dataset), dtype=torch.float32, device=self.device)

        def apply(x, y, generator):
            return x + torch.randn(x.shape, generator=generator, device=x.device) * scale
        return apply


def _numbers(dataset):
    """1 for each number feature, 0 for each category code: noise never moves a code."""
    encoding = dataset.encoding
    if encoding is None:
        return np.ones(len(dataset.features or [1]))
    return np.array([0.0 if codes else 1.0 for codes in encoding.category_levels()])


def _bind(fn, item):
    params = {k.replace("-", "_"): v for k, v in item.items() if k != "name"}
    return lambda x, y, generator: fn(x, generator, **params)


# ---- images: float batches [N, C, H, W] of 0..255 values -----------------------------------------

def rotation(x, generator, degrees):
    """Rotate each image by a uniformly drawn whole number of degrees in [−degrees, degrees]
    about its centre (bilinear; corners filled with 0)."""
    if degrees == 0:
        return x
    n = x.shape[0]
    angle = torch.randint(-degrees, degrees + 1, (n,), generator=generator, device=x.device).to(x.dtype)
    radians = angle * (math.pi / 180)
    cos, sin = torch.cos(radians), torch.sin(radians)
    zero = torch.zeros_like(cos)
    theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def pixel_noise(x, generator, fraction):
    """Replace a fraction, drawn uniformly in [0, fraction) per image, of the pixels (exactly that
    many, at random places) by random colours."""
    if fraction == 0:
        return x
    n, c, h, w = x.shape
    count = (torch.rand((n, 1), generator=generator, device=x.device) * fraction * (h * w)).long()
    order = torch.rand((n, h * w), generator=generator, device=x.device)
    cut = torch.cat([order.sort(1).values, torch.full((n, 1), 2.0, device=x.device)], 1).gather(1, count)
    hit = (order < cut).view(n, 1, h, w)
    colours = torch.rand((n, c, h, w), generator=generator, device=x.device) * 255
    return torch.where(hit, colours, x)


def mirror(x, generator, probability):
    """Flip each image left-right with the given probability."""
    flip = torch.rand((x.shape[0], 1, 1, 1), generator=generator, device=x.device) < probability
    return torch.where(flip, x.flip(3), x)


def _translate(x, generator, reach, mode):
    """Move each image by whole pixels drawn in [−reach, reach] each way; `mode` fills the edge."""
    if reach == 0:
        return x
    n, c, h, w = x.shape
    padded = F.pad(x, (reach, reach, reach, reach), mode=mode) if mode != "constant" else \
        F.pad(x, (reach, reach, reach, reach))
    dy = torch.randint(0, 2 * reach + 1, (n, 1, 1), generator=generator, device=x.device)
    dx = torch.randint(0, 2 * reach + 1, (n, 1, 1), generator=generator, device=x.device)
    rows = torch.arange(h, device=x.device).view(1, h, 1) + dy            # [n, h, 1]
    cols = torch.arange(w, device=x.device).view(1, 1, w) + dx            # [n, 1, w]
    batch = torch.arange(n, device=x.device).view(n, 1, 1)
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2).contiguous()


def shift(x, generator, pixels):
    """Move each image up to `pixels` each way; what comes in is black (0)."""
    return _translate(x, generator, pixels, "constant")


def crop(x, generator, padding):
    """Pad each image by `padding` pixels (repeating its edge) and cut out a random window of its size."""
    return _translate(x, generator, padding, "replicate")


def colour_shift(x, generator, amount):
    """Add a random shift in [−amount, amount] of the full range (255) to each channel of each image."""
    if amount == 0:
        return x
    n, c = x.shape[:2]
    offset = (torch.rand((n, c, 1, 1), generator=generator, device=x.device) * 2 - 1) * (amount * 255)
    return (x + offset).clamp_(0, 255)


def random_resized_crop(x, generator, scale, ratio):
    """Cut a window of each image and stretch it back to full size (bilinear): its area a uniform
    fraction in `scale` of the image's, its width/height ratio log-uniform in `ratio`, its place
    uniform among those that fit (a side longer than the image's is cut to it)."""
    n = x.shape[0]
    u = torch.rand((n, 4), generator=generator, device=x.device, dtype=x.dtype)
    area = scale[0] + (scale[1] - scale[0]) * u[:, 0]
    log_low, log_high = math.log(ratio[0]), math.log(ratio[1])
    aspect = torch.exp(log_low + (log_high - log_low) * u[:, 1])
    w = torch.sqrt(area * aspect).clamp(max=1.0)    # as fractions of the image's sides
    h = torch.sqrt(area / aspect).clamp(max=1.0)
    cx = (2 * u[:, 2] - 1) * (1 - w)                # the centre, in affine_grid's [−1, 1]
    cy = (2 * u[:, 3] - 1) * (1 - h)
    zero = torch.zeros_like(w)
    theta = torch.stack([torch.stack([w, zero, cx], 1), torch.stack([zero, h, cy], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


IMAGE_FUNCTIONS = {"rotation": rotation, "pixel-noise": pixel_noise, "mirror": mirror, "shift": shift,
                   "crop": crop, "colour-shift": colour_shift, "random-resized-crop": random_resized_crop}


# ---- input units -----------------------------------------------------------------------------

def input_noise(x, generator, std, fraction):
    """Corrupt network inputs: add Gaussian noise of `std`, and set a `fraction` of values to 0."""
    if std > 0:
        x = x + torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype) * std
    if fraction > 0:
        keep = torch.rand(x.shape, generator=generator, device=x.device) >= fraction
        x = x * keep
    return x
