"""Training on CUDA: the same configs run there, with mixed precision when asked (skipped without a GPU)."""
import json

import pytest
import torch

from nnrun.checkpoint import read_checkpoint
from train_fixtures import IMAGE_NETWORK, TABLE_NETWORK, bars, blobs, interrupt_at_step, write_config

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


@pytest.mark.parametrize("precision", ["float32", "bf16", "fp16"])
def test_images_on_cuda(cli, tmp_path, precision):
    data = bars(tmp_path / "bars", n=(600, 150, 150), channels=3)
    network = [{"input": [12, 12, 3, {"id": "data"}]}] + IMAGE_NETWORK[1:]
    config = write_config(tmp_path / "c.yaml", network, data, epoch_count=4, epoch_size=1200, batch_size=32,
                          precision=precision, device="cuda", metric="accuracy",
                          augmentation=["mirror", {"rotation": 10}, {"pixel-noise": 0.1}, {"shift": 1},
                                        {"crop": 1}, {"colour-shift": 0.05}])
    result = cli("train", config, "--run-dir", tmp_path / "run")
    assert result.code == 0, result
    assert "on cuda" in result.stdout and f"({precision}," in result.stdout
    test = json.loads((tmp_path / "run" / "test.json").read_text())
    assert test["accuracy"] >= 0.9
    evaluated = json.loads(cli("evaluate", tmp_path / "run" / "best.nnrun", data, "--device", "cpu",
                               "--format", "json").stdout)
    assert evaluated["accuracy"] == pytest.approx(test["accuracy"], abs=0.02)


def test_table_on_cuda_resumes(cli, tmp_path, monkeypatch):
    data = blobs(tmp_path / "d", positives=0.2, shift=4.0)
    config = write_config(tmp_path / "c.yaml", TABLE_NETWORK, data, epoch_count=3, epoch_size=1000, batch_size=50,
                          device="cuda", augmentation=[{"gaussian-noise": 0.1}, "variance-noise"],
                          metric={"name": "f-beta", "positive": "b"})
    interrupt_at_step(monkeypatch, 25)
    assert cli("train", config, "--run-dir", tmp_path / "run").code == 130
    monkeypatch.undo()
    resumed = cli("train", "--resume", tmp_path / "run", "-q")
    assert resumed.code == 0, resumed
    last = read_checkpoint(tmp_path / "run" / "last.nnrun")
    assert last["epoch"] == 3 and "cuda" in last["resume"]["rng"]
    assert json.loads((tmp_path / "run" / "test.json").read_text())["f1"] > 0.8

