"""Tiny real checkpoints for the infer/kaggle-submit tests (trained here, in a few steps of plain
torch on data made by `nnrun prepare`), and the two engines agreeing on every config's network.

Other test_infer*/test_submit* modules import `models(tmp_path_factory)`: the checkpoints are
built once per test session.
"""
import csv
import glob
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml
from PIL import Image

from conftest import ROOT, run_cli
from nnrun.data.dataset import open_dataset
from nnrun.data.preprocess import Preprocessing
from nnrun.infer.engine_numpy import NumpyEngine, supports
from nnrun.infer.engine_torch import TorchEngine, state_as_numpy
from nnrun.model_io import save_model
from nnrun.network.build import build_network
from nnrun.network.plan import plan_network

COLOURS = {"red": (210, 40, 40), "green": (40, 190, 40), "blue": (40, 40, 210)}
FEATURES = ["a", "b", "c", "d"]


# ---- data ------------------------------------------------------------------------------------

def photo(path, colour, size=(30, 22), seed=0, fmt=None):
    """A noisy picture of one colour, bigger than the networks' input (so it gets resized)."""
    rng = np.random.default_rng(seed)
    pixels = np.clip(np.array(colour) + rng.normal(0, 25, (size[1], size[0], 3)), 0, 255).astype(np.uint8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels, "RGB").save(path, format=fmt)
    return path


def colour_folders(root, classes, per_class=12):
    for c, name in enumerate(classes):
        for i in range(per_class):
            photo(root / name / f"{name}{i}.{'jpg' if i % 2 else 'png'}", COLOURS[name], seed=100 * c + i,
                  size=(24 + i, 20 + c))
    return root


def table_rows(n, seed=0):
    """Rows of a, b, c, d with label 1 when a + b > 0 (c and d are noise)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (n, 4)) * [1.0, 2.0, 3.0, 0.5] + [0.0, 0.5, 10.0, -3.0]
    y = (x[:, 0] + x[:, 1] / 2 > 0.25).astype(int)
    return x, y


def write_table(path, x, y=None, ids=None, extra=True):
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        header = (["id"] if ids is not None else []) + (["time"] if extra else []) + FEATURES \
            + (["label"] if y is not None else [])
        out.writerow(header)
        for i, row in enumerate(x):
            out.writerow(([ids[i]] if ids is not None else []) + ([i * 7] if extra else [])
                         + [f"{v:.6f}" for v in row] + ([int(y[i])] if y is not None else []))
    return path


# ---- training --------------------------------------------------------------------------------

def train(description, x, y=None, steps=60, lr=0.03, seed=0):
    """A network for `description` after a few Adam steps on inputs x (labels y, or x itself
    for an autoencoder), in eval mode."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: a second thread costs more than it gives
    try:
        return _train(description, x, y, steps, lr, seed)
    finally:
        torch.set_num_threads(threads)


def _train(description, x, y, steps, lr, seed):
    torch.manual_seed(seed)
    plan = plan_network(description)
    network = build_network(plan)
    optimizer = torch.optim.Adam(network.parameters(), lr=lr)
    x = torch.as_tensor(np.asarray(x), dtype=torch.float32)
    leaf = plan.leaves[0].id
    for _ in range(steps):
        outputs, _ = network.run(x, logits=True)
        out = outputs[leaf]
        if y is not None:
            loss = F.cross_entropy(out, torch.tensor(np.asarray(y)))
        else:
            loss = F.mse_loss(out.reshape(len(x), -1), x.reshape(len(x), -1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return network.eval()


IMAGE_NET = [{"input": [12, 12, 3, {"id": "data"}]}, {"convolutional": [3, 0, 1, 4]}, {"max-pooling": [2, 0, 2]},
             "relu", {"linear->softmax": {"id": "label"}}]


def image_model(folder, classes, size=12, positive=None, threshold=None):
    """Prepare class folders of coloured photos, train a small conv net on them, save it."""
    src = colour_folders(folder / "photos", classes)
    data = folder / "data"
    result = run_cli("prepare", "images", src, data, "--size", size, "--test-size", "0.25", "--seed", "1",
                     "--jobs", "1", "--quiet")
    assert result.code == 0, result
    ds = open_dataset(data)
    pre = Preprocessing.from_manifest(ds.manifest, "centered")
    description = [dict(layer) if isinstance(layer, dict) else layer for layer in IMAGE_NET]
    description[0] = {"input": [size, size, 3, {"id": "data"}]}
    description[-1] = {"linear->softmax": {"output-size": len(classes), "id": "label"}}
    network = train(description, pre.apply(np.asarray(ds.x("train"))), ds.y("train"))
    path = folder / "model.nnrun"
    save_model(path, network, classes=ds.classes, preprocessing=pre, positive=positive, threshold=threshold)
    return path


def table_model(folder):
    x, y = table_rows(300)
    src = write_table(folder / "train.csv", x, y)
    data = folder / "data"
    result = run_cli("prepare", "csv", src, data, "--label", "label", "--drop", "time", "--test-size", "0.3",
                     "--seed", "1", "--quiet")
    assert result.code == 0, result
    ds = open_dataset(data)
    pre = Preprocessing.from_manifest(ds.manifest)
    description = [{"input": {"width": 4, "id": "data"}}, {"linear->relu": 8}, {"linear": 2}, {"softmax": {"id": "label"}}]
    network = train(description, pre.apply(np.asarray(ds.x("train"))), ds.y("train"), steps=120)
    path = folder / "table.nnrun"
    save_model(path, network, classes=ds.classes, preprocessing=pre, positive="1", threshold=0.4)
    return path


def table_autoencoder(folder):
    x, _ = table_rows(200, seed=3)
    pre = Preprocessing("table", "standardize", list(x.mean(0)), list(x.std(0)), FEATURES)
    description = [{"input": {"width": 4, "id": "data"}}, {"linear->tanh": 3},
                   {"linear": {"output-size": 4, "target": "data"}}]
    network = train(description, pre.apply(x.astype(np.float32)), steps=80)
    path = folder / "table-ae.nnrun"
    save_model(path, network, classes=[], preprocessing=pre)
    return path


def image_autoencoder(folder):
    rng = np.random.default_rng(5)
    stored = rng.integers(0, 256, (64, 1, 8, 8), dtype=np.uint8)
    pre = Preprocessing("images", "unit", image_size=8, channels=1)
    description = [{"input": [8, 8, 1, {"id": "data"}]}, {"convolutional": [3, "same", 1, 4]}, "relu",
                   {"convolutional": [3, "same", 1, 1]}, {"logistic": {"target": "data"}}]
    network = train(description, pre.apply(stored), steps=40)
    path = folder / "image-ae.nnrun"
    save_model(path, network, classes=[], preprocessing=pre)
    return path


_BUILT = {}


def models(tmp_path_factory):
    """{name: checkpoint path} of every test model, built once per session."""
    if not _BUILT:
        root = tmp_path_factory.mktemp("infer-models")
        for name, make in (("binary", lambda f: image_model(f, ["blue", "red"], positive="red", threshold=0.5)),
                           ("three", lambda f: image_model(f, ["blue", "green", "red"])),
                           ("table", table_model), ("table-ae", table_autoencoder),
                           ("image-ae", image_autoencoder)):
            folder = root / name
            folder.mkdir()
            _BUILT[name] = make(folder)
    return dict(_BUILT)


# ---- the engines agree -----------------------------------------------------------------------

def _configs():
    found = sorted(glob.glob(str(ROOT / "configs" / "*.yaml")))
    return found or [pytest.param(None, marks=pytest.mark.skip(reason="no configs/*.yaml"))]


@pytest.mark.parametrize("config", _configs(), ids=lambda c: Path(c).name if c else "none")
def test_numpy_engine_matches_torch_on_every_config_network(config):
    """Every config's network the numpy engine takes gives the torch modules' outputs (random
    weights, random batch-norm statistics); the others are refused with a reason."""
    description = yaml.safe_load(open(config))["network"]
    plan = plan_network(description)
    reason = supports(plan)
    if reason:
        assert "numpy" in reason
        return
    torch.manual_seed(0)
    network = build_network(plan).eval()
    for module in network.modules():
        if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-1, 1)
    shape = plan.inputs[0].out_shape
    rng = np.random.default_rng(0)
    if shape.image:
        pre = Preprocessing("images", "centered", image_size=shape.height, channels=shape.channels)
        x = rng.integers(0, 256, (5,) + shape.batch_dims(), dtype=np.uint8)
    else:
        pre = Preprocessing("table", "none")
        x = rng.normal(0, 1, (5, shape.width)).astype(np.float32)
    leaves = [leaf.id for leaf in plan.leaves]
    expected = TorchEngine(network, pre, torch.device("cpu")).run(x, leaves)
    got = NumpyEngine(plan, state_as_numpy(network), pre).run(x, leaves)
    for leaf in leaves:
        assert got[leaf].shape == expected[leaf].shape
        np.testing.assert_allclose(got[leaf], expected[leaf], rtol=1e-4, atol=2e-5)


@pytest.mark.parametrize("layers", [
    [{"convolutional": [3, 1, 2, 5]}, {"max-pooling": [3, 1, 2]}, "relu"],           # Cortex ceil pooling, padded
    [{"convolutional": [2, "same", 2, 4]}, {"average-pooling": [3, 1, 2]}, "tanh"],  # avg counts padding
    [{"convolutional": [3, 0, 1, 4]}, {"average-pooling": [2, 0, 2, {"pool-op": "avg-exc-pad"}]}, "selu"],
    [{"max-pooling": [2, "same", 2]}, "swish", {"up-sampling": 2}, "global-average-pooling"],
    [{"convolutional": [1, 0, 1, 6]}, "batch-normalization", {"leaky-relu": 0.1}, "prelu", "flatten"],
    [{"convolutional": [3, 0, 1, 3, {"id": "a"}]}, {"convolutional": [1, 0, 1, 3, {"id": "b"}]},
     {"join": {"parents": ["a", "b"]}}, {"concatenate": {"parents": ["a", "join-1"]}}, "logistic"],
])
def test_numpy_engine_matches_torch_layer_by_layer(layers):
    description = [{"input": [9, 7, 2, {"id": "data"}]}] + layers + [{"linear->softmax": 3}]
    plan = plan_network(description)
    assert supports(plan) is None
    torch.manual_seed(1)
    network = build_network(plan).eval()
    for module in network.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
        if isinstance(module, torch.nn.PReLU):
            module.weight.data.uniform_(-0.5, 0.5)
    pre = Preprocessing("images", "standardize", [100.0, 120.0], [50.0, 60.0], image_size=9, channels=2)
    x = np.random.default_rng(2).integers(0, 256, (4, 2, 7, 9), dtype=np.uint8)
    leaf = plan.leaves[0].id
    expected = TorchEngine(network, pre, torch.device("cpu")).run(x, [leaf])[leaf]
    got = NumpyEngine(plan, state_as_numpy(network), pre).run(x, [leaf])[leaf]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)


def test_numpy_engine_refuses_what_it_does_not_have():
    plan = plan_network([{"input": [8, 8, 2]}, {"depthwise-convolutional": [3]}, {"linear->softmax": 2}])
    assert "depthwise-convolutional" in supports(plan)
    plan = plan_network([{"input": [8, 8, 2]}, {"up-sampling": {"mode": "bilinear"}}, {"linear->softmax": 2}])
    assert "bilinear" in supports(plan)


def test_numpy_engine_names_weights_that_do_not_fit():
    plan = plan_network([{"input": {"width": 3}}, {"linear": 2}, "softmax"])
    state = state_as_numpy(build_network(plan))
    pre = Preprocessing("table", "none")
    wrong = dict(state, **{"layers.linear-1.weight": np.zeros((2, 4), np.float32)})
    with pytest.raises(ValueError, match="linear-1"):
        NumpyEngine(plan, wrong, pre)
    with pytest.raises(ValueError, match="unexpected weights extra"):
        NumpyEngine(plan, dict(state, extra=np.zeros(1, np.float32)), pre)


def test_the_lean_path_never_imports_torch(tmp_path):
    """Opening a checkpoint for `--engine auto` on the CPU imports torch only when nnrun.checkpoint
    or the planner need it; with both torch-free it must not import torch at all."""
    import subprocess

    plan = plan_network([{"input": {"width": 3}}, {"linear": 2}, "softmax"])
    path = tmp_path / "m.nnrun"
    save_model(path, build_network(plan), classes=["x", "y"], preprocessing=Preprocessing("table", "none",
                                                                                            features=["a", "b", "c"]))
    code = ("import sys, json\n"
            "from nnrun.infer.model import open_model, torch_free\n"
            "lean = torch_free('nnrun.checkpoint', 'nnrun.network.plan') is not None\n"
            f"m = open_model({str(path)!r}, device='cpu')\n"
            "print(json.dumps({'engine': m.engine.name, 'torch': 'torch' in sys.modules, 'lean': lean}))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    state = json.loads(done.stdout)
    assert state["engine"] == "numpy"
    if state["lean"]:
        assert not state["torch"]
