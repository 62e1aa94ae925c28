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

from conftest import ROOT, run_cli, shipped_overrides
from nnrun.data.dataset import open_dataset
from nnrun.data.preprocess import Preprocessing
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
    result = run_cli("prepare", "csv", src, data, "--label-column", "label", "--drop", "time", "--test-size", "0.3",
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
    found = sorted(glob.glob(str(ROOT / "configs" / "*.yaml")) + glob.glob(str(ROOT / "configs" / "*.edn")))
    return found or [pytest.param(None, marks=pytest.mark.skip(reason="no configs"))]


def _randomised(network):
    """Weights and batch-norm statistics away from their initial values (ones, zeros)."""
    torch.manual_seed(0)
    with torch.no_grad():
        for tensor in [*network.parameters(), *network.buffers()]:
            if tensor.is_floating_point():
                tensor.add_(torch.rand_like(tensor) * 0.2)
    return network.eval()


def _inputs_for(plan, count=5):
    shape = plan.inputs[0].out_shape
    rng = np.random.default_rng(0)
    if shape.image:
        pre = Preprocessing("images", "standardize", [100.0] * shape.channels, [60.0] * shape.channels,
                            image_size=shape.height, channels=shape.channels)
        return pre, rng.integers(0, 256, (count,) + shape.batch_dims(), dtype=np.uint8)
    pre = Preprocessing("table", "standardize", [0.5] * shape.width, [2.0] * shape.width,
                        features=[f"f{i}" for i in range(shape.width)])
    return pre, rng.normal(0, 1, (count, shape.width)).astype(np.float32)


@pytest.mark.parametrize("config", _configs(), ids=lambda c: Path(c).name if c else "none")
def test_onnx_runtime_gives_torchs_outputs_on_every_config_network(config, tmp_path):
    """Every shipped network (graphs and autoencoders included) goes into its model file as an
    ONNX graph, and ONNX Runtime running it gives the torch modules' outputs to 1e-5."""
    from nnrun.config.spec import load_spec
    from nnrun.infer.model import open_model

    plan = load_spec(config, shipped_overrides(config)).plan
    network = _randomised(build_network(plan))
    pre, x = _inputs_for(plan)
    classes = [str(i) for i in range(plan.classifying_leaf.out_shape.size)] if plan.classifying_leaf else []
    path = tmp_path / "m.nnrun"
    save_model(path, network, classes=classes, preprocessing=pre)
    onnx_model = open_model(path, device="cpu", engine="auto")
    torch_model = open_model(path, device="cpu", engine="torch")
    assert (onnx_model.engine.name, torch_model.engine.name) == ("onnx", "torch")
    got, expected = onnx_model.run(x), torch_model.run(x)
    assert list(got) == list(expected) == plan.inference_outputs
    for name in expected:
        assert got[name].shape == expected[name].shape
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-5, atol=1e-5)
    if "probabilities" in got:
        np.testing.assert_allclose(got["probabilities"].sum(axis=1), 1.0, atol=1e-5)


def test_the_graph_does_not_depend_on_the_weights_it_was_made_with(tmp_path):
    """Training makes the graph once, at its first save: a batch-norm whose scale and running
    variance are both ones then must still be right once they differ."""
    from nnrun.infer.model import open_model

    plan = plan_network([{"input": [6, 6, 3, {"id": "data"}]}, {"convolutional": [3, 0, 1, 4]},
                         "batch-normalization", "relu", {"linear->softmax": 2}])
    network = build_network(plan).eval()
    pre, x = _inputs_for(plan)
    path = tmp_path / "m.nnrun"
    save_model(path, network, classes=["a", "b"], preprocessing=pre)
    from nnrun.checkpoint import read_checkpoint

    graph = read_checkpoint(path)["onnx"]
    _randomised(network)
    save_model(path, network, classes=["a", "b"], preprocessing=pre, graph=graph)
    got = open_model(path, device="cpu", engine="onnx").run(x)["probabilities"]
    expected = open_model(path, device="cpu", engine="torch").run(x)["probabilities"]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_cpu_inference_never_imports_torch(tmp_path):
    import subprocess

    plan = plan_network([{"input": {"width": 3}}, {"linear": 2}, "softmax"])
    path = tmp_path / "m.nnrun"
    save_model(path, build_network(plan), classes=["x", "y"],
               preprocessing=Preprocessing("table", "none", features=["a", "b", "c"]))
    (tmp_path / "rows.csv").write_text("a,b,c\n1,2,3\n4,5,6\n")
    code = ("import sys\n"
            "from nnrun.cli import main\n"
            f"try:\n    main(['infer', {str(path)!r}, {str(tmp_path / 'rows.csv')!r}])\n"
            "except SystemExit:\n    pass\n"
            "print('torch imported' if 'torch' in sys.modules else 'no torch')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env={"CUDA_VISIBLE_DEVICES": "", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 3 and lines[-1] == "no torch", done.stdout
    assert json.loads(lines[0])["input"] == f"{tmp_path / 'rows.csv'}:1"


def test_an_old_model_file_without_a_graph_runs_on_torch_with_a_note(tmp_path):
    from nnrun.infer.model import open_model

    plan = plan_network([{"input": {"width": 3}}, {"linear": 2}, "softmax"])
    path = tmp_path / "old.nnrun"
    save_model(path, build_network(plan), classes=["x", "y"], graph=False,
               preprocessing=Preprocessing("table", "none", features=["a", "b", "c"]))
    notes = []
    model = open_model(path, device="cpu", warn=notes.append)
    assert model.engine.name == "torch" and "nnrun export" in notes[0]
    (tmp_path / "rows.csv").write_text("a,b,c\n1,2,3\n")
    result = run_cli("infer", path, tmp_path / "rows.csv", "--engine", "onnx")
    assert result.code == 2 and "holds no ONNX graph" in result.stderr
    fixed = tmp_path / "new.nnrun"
    assert run_cli("export", path, "-o", fixed).code == 0
    assert open_model(fixed, device="cpu").engine.name == "onnx"
