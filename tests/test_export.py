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


# ---- the documented script: an exported image model outside nnrun ------------------------------

def _awkward_photos(folder):
    """Images that each take a step of the decoder: a large JPEG (draft mode, then the bicubic
    resize with its reducing gap), one stored sideways with an EXIF orientation, a PNG with
    transparent parts, a grayscale PNG, a 16-bit grayscale PNG and a palette GIF."""
    from PIL import Image

    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:300, 0:400]
    waves = np.stack([128 + 100 * np.sin(x / 7.0 + c) * np.cos(y / 11.0) for c in range(3)], axis=-1)
    photo = np.clip(waves + rng.normal(0, 30, waves.shape), 0, 255).astype(np.uint8)
    paths = []
    big = folder / "big.jpg"
    Image.fromarray(photo, "RGB").save(big, quality=90)
    sideways = folder / "sideways.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(photo[:, :250], "RGB").save(sideways, quality=85, exif=exif)
    alpha = folder / "alpha.png"
    rgba = np.dstack([photo[:90, :70], np.where(rng.random((90, 70)) < 0.4, 0, 255).astype(np.uint8)])
    Image.fromarray(rgba, "RGBA").save(alpha)
    grey = folder / "grey.png"
    Image.fromarray(photo[:50, :60, 0], "L").save(grey)
    deep = folder / "deep.png"
    Image.fromarray(photo[:40, :40, 1].astype(np.uint16) * 257).save(deep)  # mode I;16
    palette = folder / "palette.gif"
    Image.fromarray(photo[:64, :64], "RGB").convert("P", palette=Image.Palette.ADAPTIVE).save(palette)
    return [big, sideways, alpha, grey, deep, palette]


def test_the_documented_script_answers_images_from_the_exported_onnx_alone(ckpt, tmp_path):
    """docs/examples/image_onnx.py, with onnxruntime, numpy and Pillow alone (nnrun, torch and onnx
    cannot be imported where it runs), decodes each image to nnrun's very pixels from the
    metadata's "image-decoding" and gives `nnrun infer`'s probabilities and classes."""
    import importlib.util
    import subprocess
    import sys

    import onnx

    from conftest import ROOT
    from nnrun.data.decode import load_image

    onnx_file = tmp_path / "m.onnx"
    assert run_cli("export", ckpt["binary"], "-o", onnx_file).code == 0
    meta = {p.key: p.value for p in onnx.load(onnx_file).metadata_props}
    stated = json.loads(meta["preprocessing"])
    assert stated["in-graph"] is True and "mean" not in stated and "std" not in stated
    assert stated["scale"] == [pytest.approx(1 / 255)] and stated["shift"] == [-0.5]
    how = json.loads(meta["image-decoding"])
    assert (how["size"], how["mode"], how["resample"], how["reducing-gap"]) == ([12, 12], "RGB", "bicubic", 3.0)

    images = _awkward_photos(tmp_path)
    script = ROOT / "docs" / "examples" / "image_onnx.py"
    spec = importlib.util.spec_from_file_location("image_onnx", script)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    for path in images:
        np.testing.assert_array_equal(example.decode(str(path), how), load_image(path, 12, 3), err_msg=path.name)

    alone = ("import runpy, sys; sys.modules.update(nnrun=None, torch=None, onnx=None, pandas=None); "
             "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')")
    done = subprocess.run([sys.executable, "-c", alone, script, onnx_file, *images], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    inferred = run_cli("infer", ckpt["binary"], *images)
    assert inferred.code == 0, inferred
    expected = [json.loads(line) for line in inferred.stdout.splitlines()]
    assert [a["input"] for a in answers] == [e["input"] for e in expected] == [str(p) for p in images]
    assert [a["classification"] for a in answers] == [e["classification"] for e in expected]
    got = np.array([list(a["probability-map"].values()) for a in answers])
    np.testing.assert_allclose(got, [list(e["probability-map"].values()) for e in expected], atol=1e-6)
    assert 0.001 < got.min() and got.max() < 0.999  # answers a decoding mistake would move
