"""The small-data recipe's keys: epoch-size in passes, class weights, label smoothing, mixup and
cutmix, AdamW, warm-up before the schedule, a weight average (EMA) saved as the model, random
resized crops, and mirror test-time augmentation in `nnrun evaluate`."""
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import run_cli
from nnrun.checkpoint import read_checkpoint
from nnrun.train.augment import random_resized_crop
from nnrun.train.recipe import Mixer, WeightAverage, beta_sample, class_weights, epoch_size
from nnrun.train.schedule import Schedule
from train_fixtures import TABLE_NETWORK, bars, blobs, write_config

IMAGE_NET = [{"input": {"id": "data"}}, {"convolutional": [3, "same", 1, 4]}, "relu",
             {"max-pooling": [2, 0, 2]}, {"linear->softmax": {"output-size": 3, "id": "label"}}]


def metrics(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


# ---- configs: every new key is checked like the rest -------------------------------------------

BAD = {
    "epoch-size passes NaN": (["train.epoch-size={passes: .nan}"], "train.epoch-size.passes: must be a finite"),
    "epoch-size unknown key": (["train.epoch-size={pases: 2}"], 'train.epoch-size: unknown key "pases"'),
    "class-weights text": (["train.class-weights=heavy"], "train.class-weights: must be balanced or a map"),
    "class-weight negative": (["train.class-weights={a: -1}"], "train.class-weights.a: must be ≥ 0"),
    "label-smoothing 1": (["train.label-smoothing=1"], "train.label-smoothing: must be ≤ 0.999"),
    "mixup NaN": (["train.mixup=.nan"], "train.mixup: must be a finite number"),
    "cutmix text": (["train.cutmix=lots"], "train.cutmix: must be a number"),
    "ema 1": (["train.ema=1"], "train.ema: must be ≤"),
    "warm-up negative": (["train.schedule={type: cosine, warmup-epochs: -1}"], "train.schedule.warmup-epochs"),
    "crop scale reversed": (["train.augmentation=[{random-resized-crop: {scale: [0.9, 0.2]}}]"],
                            "random-resized-crop.scale: low 0.9 is above high 0.2"),
    "crop ratio one number": (["train.augmentation=[{random-resized-crop: {ratio: 2}}]"],
                              "random-resized-crop.ratio: must be [low, high]"),
    "adamw momentum": (["train.optimizer={type: adamw, momentum: 0.9}"], "not an option of adamw"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_recipe_keys_are_one_line_errors(tmp_path, case):
    sets, expected = BAD[case]
    path = write_config(tmp_path / "c.yaml", TABLE_NETWORK, tmp_path)
    result = run_cli("check", path, *[a for s in sets for a in ("--set", s)])
    assert result.code == 2 and "Traceback" not in result.output, result
    message = result.stderr.strip()
    assert "\n" not in message and expected in message, message


def test_adamw_decays_the_weights_apart_from_adam_and_keeps_it_through_set(tmp_path):
    from nnrun.config.sections import optimizer_section
    from nnrun.network.build import build_network
    from nnrun.network.plan import plan_network
    from nnrun.train.optimizers import make_optimizer

    options = optimizer_section("adamw", "train.optimizer")
    assert options["weight-decay"] == 0.01 and optimizer_section("adam", "o")["weight-decay"] == 0.0
    network = build_network(plan_network(TABLE_NETWORK), device="cpu")
    optimizer = make_optimizer(options, network, "cpu")
    assert isinstance(optimizer, torch.optim.AdamW) and optimizer.defaults["weight_decay"] == 0.01
    path = write_config(tmp_path / "c.yaml", TABLE_NETWORK, tmp_path, optimizer={"type": "adam", "weight-decay": 0.05})
    shown = run_cli("train", path, "--set", "train.optimizer=adamw", "--print-config")
    assert "type: adamw" in shown.stdout and "weight-decay: 0.05" in shown.stdout


# ---- pieces ------------------------------------------------------------------------------------

def test_epoch_size_in_passes():
    assert epoch_size({"passes": 2.0}, 600) == 1200
    assert epoch_size({"passes": 0.25}, 600) == 150
    assert epoch_size(None, 600) == 600 and epoch_size(77, 600) == 77


def test_balanced_class_weights_and_named_ones():
    labels = np.array([0] * 90 + [1] * 10)
    assert np.allclose(class_weights("balanced", ["a", "b"], labels), [100 / 180, 100 / 20])
    assert np.allclose(class_weights({"b": 3}, ["a", "b"], labels), [1, 3])


def test_warmup_rises_then_cosine_anneals_over_the_rest():
    p = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([p], lr=1.0)
    schedule = Schedule({"type": "cosine", "min-learning-rate": 0.0, "warmup-epochs": 2}, optimizer, 6)
    rates = []
    for _ in range(6):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step(0.0)
    assert np.allclose(rates, [1 / 3, 2 / 3, 1.0, 0.853553, 0.5, 0.146447], atol=1e-5)


def test_beta_draws_have_the_beta_variance():
    g = torch.Generator().manual_seed(0)
    for alpha in (0.2, 1.0):
        draws = np.array([beta_sample(alpha, g) for _ in range(3000)])
        assert draws.min() >= 0 and draws.max() <= 1
        assert abs(draws.var() - 1 / (4 * (2 * alpha + 1))) < 0.015


def test_mixup_blends_and_cutmix_pastes_a_box_labelled_by_area():
    # 8 images whose pixels all differ, so a pixel taken from another image shows. (With 2 images
    # the seed drew the identity order: each image was "mixed" with itself and nothing was checked.)
    x = torch.arange(8 * 1 * 8 * 8, dtype=torch.float32).view(8, 1, 8, 8)
    mixed, order, lam = Mixer(0.4, 0.0, seed=1).draw(x)
    moved = order != torch.arange(8)
    assert moved.sum() >= 4 and 0.1 < lam < 0.9  # the draw mixes: the checks below can see it
    assert torch.allclose(mixed, x * lam + x[order] * (1 - lam))
    assert not torch.isclose(mixed[moved], x[moved]).any()
    pasted, order, lam = Mixer(0.0, 1.0, seed=2).draw(x)
    moved = order != torch.arange(8)
    assert moved.sum() >= 4 and 0.1 < lam < 0.9
    assert torch.all((pasted == x) | (pasted == x[order]))
    from_copy = (pasted != x)[moved, 0]          # [images, h, w]: the pixels pasted from the partner
    box = from_copy[0]
    rows, columns = box.any(1), box.any(0)
    assert torch.equal(box, rows[:, None] & columns[None, :])  # one rectangle ...
    assert torch.all(from_copy == box)                        # ... the same in every image
    assert from_copy.float().mean().item() == pytest.approx(1 - lam, abs=1e-9)  # λ is the kept area


def test_weight_average_follows_the_weights_with_its_decay():
    network = torch.nn.Linear(2, 1)
    average = WeightAverage(network, 0.9)
    before = network.weight.detach().clone()
    with torch.no_grad():
        network.weight.add_(1.0)
    average.update()
    assert torch.allclose(average.module.weight, before + 0.1)


def test_random_resized_crop_is_the_identity_at_full_scale_and_stretches_a_window():
    g = torch.Generator().manual_seed(0)
    x = torch.arange(64, dtype=torch.float32).view(1, 1, 8, 8).repeat(4, 1, 1, 1)
    assert torch.allclose(random_resized_crop(x, g, [1.0, 1.0], [1.0, 1.0]), x)
    window = random_resized_crop(x, g, [0.25, 0.25], [1.0, 1.0])
    steps = window[:, 0, 2:-1, 0] - window[:, 0, 1:-2, 0]   # a half-height window: rows 8 apart → 4
    assert torch.allclose(steps, torch.full_like(steps, 4.0), atol=1e-3)  # (its edge rows may clamp)


# ---- whole runs -----------------------------------------------------------------------------------

def test_a_table_run_with_passes_weights_smoothing_mixup_and_warmup(tmp_path):
    data = blobs(tmp_path / "d", n=(300, 100, 100))
    path = write_config(tmp_path / "c.yaml", [{"input": {"id": "data"}}] + TABLE_NETWORK[1:], data,
                        epoch_count=3, batch_size=50, epoch_size={"passes": 2}, sampling="shuffle",
                        class_weights="balanced", label_smoothing=0.1, mixup=0.2, optimizer="adamw",
                        schedule={"type": "cosine", "warmup-epochs": 2})
    run = tmp_path / "run"
    result = run_cli("train", path, "--run-dir", run, "--quiet")
    assert result.code == 0, result
    records = metrics(run)
    assert [r["samples"] for r in records] == [600] * 3
    # each record holds the rate the next epoch trains at: 2/3, 1, then cosine's end
    assert np.allclose([r["learning-rate"] for r in records], [2e-3 / 3, 1e-3, 0.0])
    refused = run_cli("train", path, "--set", "train.class-weights={z: 2}", "--run-dir", tmp_path / "r2")
    assert refused.code == 2 and "train.class-weights.z: not a class" in refused.stderr


def test_loss_options_on_an_autoencoder_are_refused(tmp_path):
    data = blobs(tmp_path / "d", n=(60, 20, 20))
    network = [{"input": {"width": 6, "id": "data"}}, {"linear": 6, "target": "data"}]
    path = write_config(tmp_path / "c.yaml", network, data, label_smoothing=0.1, epoch_count=1)
    result = run_cli("train", path, "--run-dir", tmp_path / "run")
    assert result.code == 2 and "train.label-smoothing: for a network with one softmax leaf" in result.stderr


def test_an_image_run_with_ema_saves_the_average_and_resumes_the_training_weights(tmp_path):
    data = bars(tmp_path / "d", n=(96, 48, 48), size=12, channels=3)
    path = write_config(tmp_path / "c.yaml", IMAGE_NET, data, epoch_count=2, batch_size=32, ema=0.5,
                        cutmix=1.0, mixup=0.2, augmentation=["mirror", {"random-resized-crop": {"scale": [0.5, 1]}}])
    run = tmp_path / "run"
    assert run_cli("train", path, "--run-dir", run, "--quiet").code == 0
    last = read_checkpoint(run / "last.nnrun")
    training = last["resume"]["training-weights"]
    assert set(training) == set(last["tensors"])
    assert any(not torch.equal(training[k], last["tensors"][k]) for k in training)  # the average was saved
    resumed = run_cli("train", "--resume", run, "--set", "train.epoch-count=3", "--quiet")
    assert resumed.code == 0, resumed
    assert len(metrics(run)) == 3
    plain = run_cli("evaluate", run / "best.nnrun", data, "--format", "json")
    assert plain.code == 0, plain


def test_mirror_tta_averages_the_probabilities_of_an_image_and_its_mirror(tmp_path):
    from nnrun.model_io import load_model
    from nnrun.train.tta import MirrorAverage
    from nnrun.train.task import model_task
    from nnrun.data.dataset import open_dataset

    data = bars(tmp_path / "d", n=(64, 16, 16), size=12, channels=3)
    path = write_config(tmp_path / "c.yaml", IMAGE_NET, data, epoch_count=1, batch_size=32)
    assert run_cli("train", path, "--run-dir", tmp_path / "run", "--quiet").code == 0
    loaded = load_model(tmp_path / "run" / "best.nnrun", device="cpu")
    task = model_task(loaded, open_dataset(data), "test")
    x = torch.rand(5, 3, 12, 12)
    network = loaded.network.eval()
    wrapped = MirrorAverage(network, task, True)
    with torch.no_grad():
        out, _ = wrapped.run(x, logits=True)
        expected = (F.softmax(network.run(x, logits=True)[0]["label"].double(), 1)
                    + F.softmax(network.run(x.flip(3), logits=True)[0]["label"].double(), 1)) / 2
    assert torch.allclose(out["label"].softmax(1), expected, atol=1e-9)
    # on the command line: the answers are those of the average, which cannot tell an image from
    # its mirror image, where the plain network's can
    import shutil
    mirrored = tmp_path / "mirrored"
    shutil.copytree(data, mirrored)
    np.save(mirrored / "test.x.npy", np.load(data / "test.x.npy")[..., ::-1])

    def evaluated(dataset, *tta):
        result = run_cli("evaluate", tmp_path / "run" / "best.nnrun", dataset, "--format", "json", *tta)
        assert result.code == 0, result
        return json.loads(result.stdout)
    plain, plain_of_mirrors = evaluated(data), evaluated(mirrored)
    tta, tta_of_mirrors = evaluated(data, "--tta", "mirror"), evaluated(mirrored, "--tta", "mirror")
    assert tta["tta"] == "mirror" and plain["loss"] != pytest.approx(plain_of_mirrors["loss"], rel=1e-3)
    assert tta["loss"] == pytest.approx(tta_of_mirrors["loss"], rel=1e-9)
    assert tta["loss"] != pytest.approx(plain["loss"], rel=1e-3)
    assert tta["metrics"]["confusion-matrix"] == tta_of_mirrors["metrics"]["confusion-matrix"]
    tables = blobs(tmp_path / "t", n=(60, 20, 20))
    table_path = write_config(tmp_path / "t.yaml", TABLE_NETWORK, tables, epoch_count=1)
    assert run_cli("train", table_path, "--run-dir", tmp_path / "trun", "--quiet").code == 0
    refused = run_cli("evaluate", tmp_path / "trun" / "best.nnrun", tables, "--tta", "mirror")
    assert refused.code == 2 and "for networks that take images" in refused.stderr
