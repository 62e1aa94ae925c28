"""`nnrun export`: ONNX, safetensors, TorchScript and the model file with its graph, each giving
what `nnrun infer` gives, each explaining itself with nnrun's metadata."""
import json

import numpy as np
import pytest

from conftest import run_cli
from test_infer_models import models


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return models(tmp_path_factory)


def _pixels(count=6):
    return np.random.default_rng(4).integers(0, 256, (count, 3, 12, 12), dtype=np.uint8)


def test_onnx_file_is_checked_self_describing_and_gives_infers_probabilities(ckpt, tmp_path):
    import onnx
    import onnxruntime

    from nnrun.infer.model import open_model

    out = tmp_path / "m.onnx"
    result = run_cli("export", ckpt["binary"], "-o", out)
    assert result.code == 0, result.stderr
    model = onnx.load(out)
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version >= 17
    meta = {p.key: p.value for p in model.metadata_props}
    assert json.loads(meta["classes"]) == ["blue", "red"] and json.loads(meta["positive"]) == "red"
    assert json.loads(meta["threshold"]) == 0.5 and json.loads(meta["input-shape"]) == ["batch", 3, 12, 12]
    assert meta["input-dtype"] == "uint8" and json.loads(meta["preprocessing"])["mode"] == "centered"
    assert "nnrun-version" in meta
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    batch = session.get_inputs()[0].shape[0]
    assert not isinstance(batch, int)  # a dynamic batch dimension
    for count in (1, 7):
        x = _pixels(count)
        (p,) = session.run(["probabilities"], {"input": x})
        expected = open_model(ckpt["binary"], device="cpu", engine="torch").run(x)["probabilities"]
        np.testing.assert_allclose(p, expected, rtol=1e-5, atol=1e-5)


def test_safetensors_loads_into_numpy_with_the_same_metadata(ckpt, tmp_path):
    from safetensors import safe_open

    from nnrun.checkpoint import read_checkpoint

    out = tmp_path / "w.safetensors"
    assert run_cli("export", ckpt["table"], "-o", out).code == 0
    stored = read_checkpoint(ckpt["table"], arrays="numpy")["tensors"]
    with safe_open(str(out), framework="numpy") as f:
        meta = f.metadata()
        assert sorted(f.keys()) == sorted(stored)
        for name in stored:
            np.testing.assert_array_equal(f.get_tensor(name), stored[name])
    assert json.loads(meta["classes"]) == ["0", "1"] and json.loads(meta["threshold"]) == 0.4
    assert json.loads(meta["preprocessing"])["features"] == ["a", "b", "c", "d"]


def test_torchscript_runs_without_nnrun_and_carries_the_metadata(ckpt, tmp_path):
    import torch

    from nnrun.infer.model import open_model

    out = tmp_path / "m.pt"
    assert run_cli("export", ckpt["image-ae"], "-o", out).code == 0
    extra = {"nnrun.json": ""}
    module = torch.jit.load(str(out), _extra_files=extra)
    assert json.loads(json.loads(extra["nnrun.json"])["outputs"]) == ["reconstruction", "reconstruction_error"]
    x = np.random.default_rng(1).integers(0, 256, (3, 1, 8, 8), dtype=np.uint8)
    reconstruction, error = module(torch.from_numpy(x))
    expected = open_model(ckpt["image-ae"], device="cpu").run(x)
    np.testing.assert_allclose(error.detach().numpy(), expected["reconstruction_error"], rtol=1e-5, atol=1e-6)


def test_mistakes_exit_2_and_leave_nothing(ckpt, tmp_path):
    out = tmp_path / "m.bin"
    result = run_cli("export", ckpt["binary"], "-o", out)
    assert result.code == 2 and "--format" in result.stderr and not out.exists()
    not_a_model = tmp_path / "x.nnrun"
    not_a_model.write_text("hello")
    result = run_cli("export", not_a_model, "-o", tmp_path / "y.onnx")
    assert result.code == 2 and "x.nnrun" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "y.onnx").exists()
    result = run_cli("export", ckpt["binary"], "-o", tmp_path / "missing" / "m.onnx")
    assert result.code == 2 and "does not exist" in result.stderr
    assert list(tmp_path.iterdir()) == [not_a_model]
