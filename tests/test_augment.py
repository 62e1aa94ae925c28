"""Augmentation: drawn fresh per batch, batched, seeded; the write-up's variance noise exactly."""
import math

import numpy as np
import pytest
import torch

from nnrun.config.sections import augmentation_item
from nnrun.data.dataset import open_dataset
from nnrun.errors import UserError
from nnrun.train import augment as a
from nnrun.train.augment import Augmenter
from train_fixtures import bars, blobs


def gen(seed=0):
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def items(*specs):
    return [augmentation_item(s, f"train.augmentation[{i}]") for i, s in enumerate(specs)]


def test_variance_noise_is_the_write_ups_formula(tmp_path):
    ds = open_dataset(blobs(tmp_path / "t", positives=0.2))
    aug = Augmenter(items({"variance-noise": 5000}), ds, "train", 1, "cpu", seed=0)
    x = torch.from_numpy(np.array(ds.x("train")[:200], dtype=np.float32))
    y = torch.tensor(ds.y("train")[:200])
    out = aug.stored_units(x.clone(), y)
    positives = ds.x("train")[ds.y("train") == 1].astype(np.float64)
    variance = positives.var(0, ddof=1)
    spread = variance * 5000 / np.linalg.norm(variance)
    noise = (out - x).numpy()
    assert np.all(noise[y.numpy() == 0] == 0)                      # only the chosen class moves
    moved = np.abs(noise[y.numpy() == 1])
    assert np.all(moved <= spread * (1 + 1e-5))                     # uniform in [−s, +s)
    assert np.all(moved.max(0) > 0.5 * spread)                      # and spread over that range
    again = aug.stored_units(x.clone(), y)
    assert not torch.equal(again, out)                              # fresh noise on every draw


def test_variance_noise_needs_a_class(tmp_path):
    ds = open_dataset(blobs(tmp_path / "t", classes=("a", "b", "c")))
    with pytest.raises(UserError, match="class"):
        Augmenter(items("variance-noise"), ds, "train", None, "cpu", 0)
    with pytest.raises(UserError, match='"zz" is not a class'):
        Augmenter(items({"variance-noise": {"class": "zz"}}), ds, "train", None, "cpu", 0)


def test_gaussian_noise_is_scaled_per_feature(tmp_path):
    ds = open_dataset(blobs(tmp_path / "t", n=(4000, 10, 10)))
    aug = Augmenter(items({"gaussian-noise": 0.5}), ds, "train", 1, "cpu", seed=0)
    x = torch.zeros(4000, 6)
    noise = aug.stored_units(x, torch.zeros(4000, dtype=torch.long))
    expected = 0.5 * np.asarray(ds.normalisation["std"])
    assert np.allclose(noise.std(0).numpy(), expected, rtol=0.1)


def test_table_and_image_augmentations_refuse_the_other_kind(tmp_path):
    table = open_dataset(blobs(tmp_path / "t"))
    images = open_dataset(bars(tmp_path / "i"))
    with pytest.raises(UserError, match=r"train.augmentation\[0\].rotation: works on images"):
        Augmenter(items("rotation"), table, "train", None, "cpu", 0)
    with pytest.raises(UserError, match="works on tables"):
        Augmenter(items("gaussian-noise"), images, "train", None, "cpu", 0)


def test_rotation_turns_each_image_by_its_drawn_whole_degrees():
    x = torch.zeros(64, 1, 21, 21)
    x[:, :, 10, :] = 255  # a horizontal line through the centre
    out = a.rotation(x, gen(), 25)
    assert out.shape == x.shape
    assert torch.allclose(a.rotation(x, gen(), 0), x)
    angles = torch.randint(-25, 26, (64,), generator=gen()).float()  # the draw the function makes
    assert angles.min() < -15 and angles.max() > 15  # (so that an image left as it was shows)
    # each rotated line's angle, from the centre row to the row 8 pixels right of centre; rows
    # count downwards, so a positive (anticlockwise on screen) turn moves the line up
    measured = []
    for img in out[:, 0]:
        column = img[:, 18]
        row = float((column * torch.arange(21)).sum() / column.sum())
        measured.append(math.degrees(math.atan2(row - 10, 8)))
    assert (torch.tensor(measured) + angles).abs().max() < 1.0  # the drawn angle, to bilinear's accuracy


def test_pixel_noise_replaces_at_most_the_fraction_with_colours_over_the_whole_range():
    x = torch.full((200, 3, 16, 16), 7.0)
    out = a.pixel_noise(x, gen(), 0.25)
    changed = (out != x).any(1).float().mean((1, 2))
    assert changed.max() < 0.25 and changed.mean() > 0.1
    assert torch.equal(a.pixel_noise(x, gen(), 0.0), x)
    colours = out[out != x]
    assert colours.min() >= 0 and colours.max() <= 255
    assert colours.min() < 10 and colours.max() > 245 and colours.std() > 60  # uniform over 0..255


def translations(out, x, reach, mode):
    """For each image of `out`, the (dy, dx) within `reach` that makes it `x`'s image moved by
    that much with edges filled as `mode` pads them (0 or the edge repeated); None where none does."""
    found = []
    h, w = x.shape[2:]
    for moved, source in zip(out, x):
        padded = torch.nn.functional.pad(source[None], (reach,) * 4, mode=mode)[0]
        found.append(next(((dy, dx) for dy in range(-reach, reach + 1) for dx in range(-reach, reach + 1)
                           if torch.equal(moved, padded[:, reach + dy:reach + dy + h, reach + dx:reach + dx + w])),
                          None))
    return found


def test_mirror_shift_crop_colour_shift():
    x = torch.arange(2 * 1 * 4 * 4, dtype=torch.float32).view(2, 1, 4, 4)
    assert torch.equal(a.mirror(x, gen(), 1.0), x.flip(3))
    assert torch.equal(a.mirror(x, gen(), 0.0), x)
    # 16 images of distinct pixels (+1: none is 0, the fill), so each move shows which it was
    many = torch.arange(1, 16 * 16 + 1, dtype=torch.float32).view(16, 1, 4, 4)
    assert torch.equal(a.shift(x, gen(), 0), x)
    for move, mode in ((a.shift, "constant"), (a.crop, "replicate")):
        moves = translations(move(many, gen(1), 2), many, 2, mode)
        assert None not in moves, (move.__name__, moves)        # each image moved whole, edges filled
        assert len(set(moves)) > 4 and {dy for dy, _ in moves} >= {-2, 2} and {dx for _, dx in moves} >= {-2, 2}
    coloured = a.colour_shift(torch.full((50, 3, 2, 2), 100.0), gen(), 0.1)
    offsets = coloured - 100
    assert offsets.abs().max() <= 25.5 + 1e-4
    assert offsets.abs().max() > 20 and (offsets > 0).any() and (offsets < 0).any()  # drawn over ±25.5
    assert torch.all(offsets.std((2, 3)) == 0)  # one shift per channel per image ...
    assert len(set(offsets[:, :, 0, 0].flatten().tolist())) == 150  # ... each its own
    assert a.colour_shift(torch.full((50, 3, 2, 2), 250.0), gen(), 0.1).max() == 255  # clamped


def test_input_noise_and_masking():
    x = torch.zeros(1000, 50)
    noisy = a.input_noise(x, gen(), std=0.3, fraction=0.0)
    assert noisy.std().item() == pytest.approx(0.3, rel=0.05)
    masked = a.input_noise(torch.ones(1000, 50), gen(), std=0.0, fraction=0.25)
    assert (masked == 0).float().mean().item() == pytest.approx(0.25, abs=0.02)


def test_augmenter_stages_and_state(tmp_path):
    ds = open_dataset(bars(tmp_path / "i"))
    aug = Augmenter(items("rotation", "mirror", {"input-noise": 0.2}), ds, "train", None, "cpu", seed=3)
    assert aug.changes_stored and len(aug.inputs) == 1
    x = torch.from_numpy(np.array(ds.x("train")[:16], dtype=np.float32))
    state = aug.state_dict()
    first = aug.stored_units(x.clone(), None)
    aug.load_state_dict(state)
    assert torch.equal(aug.stored_units(x.clone(), None), first)
    only_input = Augmenter(items({"input-noise": 0.2}), ds, "train", None, "cpu", seed=3)
    assert not only_input.changes_stored
