"""The fast path of infer/kaggle-submit: image workers forked before the checkpoint is read,
the network handed over to them afterwards (nnrun/infer/handoff.py), the checkpoint's header
peeked at without reading its arrays (nnrun/infer/meta.py), and the chunking of the work."""
import os

import numpy as np
import pytest

from nnrun.checkpoint import read_checkpoint, write_checkpoint
from nnrun.infer.handoff import Handoff
from nnrun.infer.images import ImageReader, chunk_bounds
from nnrun.infer.meta import peek_model
from nnrun.infer.model import open_model
from test_infer_models import models

FIELDS = ("kind", "network", "classes", "positive", "threshold", "preprocessing", "dataset")


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return models(tmp_path_factory)


# ---- peeking ---------------------------------------------------------------------------------

def test_peek_gives_what_the_full_reader_gives_without_the_arrays(ckpt, tmp_path):
    for path in ckpt.values():
        full = read_checkpoint(path, arrays="numpy")
        assert peek_model(path) == {key: full.get(key) for key in FIELDS}, path
    # Arrays elsewhere in the payload (resume state, say), before and after what is asked for,
    # and map/array headers of every width: stepped over, never read.
    payload = read_checkpoint(ckpt["binary"], arrays="numpy")
    payload = {"resume": {"moments": [np.arange(70_000, dtype=np.float32), {i: np.ones(3) for i in range(20)}],
                          "note": "x" * 300, "big": list(range(40_000))}, **payload, "after": np.zeros((5, 5))}
    path = tmp_path / "resumable.nnrun"
    write_checkpoint(path, payload)
    assert peek_model(path) == {key: payload.get(key) for key in FIELDS}


def test_peek_says_none_for_anything_but_an_intact_model_checkpoint(ckpt, tmp_path):
    data = ckpt["binary"].read_bytes()
    for cut in (0, 1, 10, 40, len(data) // 2, len(data) - 100, len(data) - 1):
        broken = tmp_path / f"cut{cut}.nnrun"
        broken.write_bytes(data[:cut])
        assert peek_model(broken) is None, cut
    other = tmp_path / "other.nnrun"
    write_checkpoint(other, {"kind": "something-else", "tensors": {}})
    png = tmp_path / "photo.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    for path in (other, png, tmp_path, tmp_path / "missing.nnrun"):
        assert peek_model(path) is None, path


# ---- chunks ----------------------------------------------------------------------------------

@pytest.mark.parametrize("count, workers", [(0, 2), (1, 2), (7, 1), (100, 2), (2000, 2), (2000, 8), (513, 3)])
def test_chunks_cover_every_file_once_and_shrink_towards_the_end(count, workers):
    bounds = chunk_bounds(count, workers, largest=64, smallest=8)
    starts, ends = [s for s, _ in bounds], [e for _, e in bounds]
    assert starts == [0] + ends[:-1] if count else bounds == []
    assert (ends[-1] if bounds else 0) == count
    sizes = [e - s for s, e in bounds]
    assert all(size <= 64 for size in sizes)
    assert all(size >= 8 for size in sizes[:-1])       # only the very last may be smaller
    assert sizes == sorted(sizes, reverse=True)         # never bigger than one before it
    if count >= 2000:
        assert sizes[0] == 64 and sizes[-2] == 8


# ---- handing the network to forked workers ---------------------------------------------------

def _files(ckpt, tmp_path):
    files = sorted((ckpt["three"].parent / "photos").rglob("*.*"))
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    files.insert(5, bad)
    return files


@pytest.mark.parametrize("pool", ["processes", "threads"])
def test_workers_started_before_the_network_run_it_once_handed_over(ckpt, tmp_path, monkeypatch, pool):
    """What kaggle-submit does: fork the decoding workers, then read the weights into shared
    memory and hand the network over. Chunks decoded before the hand-over and after it all
    come back in order, with the readable files' outputs, as if run here."""
    import multiprocessing

    from nnrun.infer.model import open_lean_model, run_all

    if pool == "threads":  # a platform without fork
        monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    files = _files(ckpt, tmp_path)
    handoff = Handoff(os.path.getsize(ckpt["three"]))
    with ImageReader(files, 12, 3, jobs=2, chunk=4, handoff=handoff, keep_pixels=False) as reader:
        reader._pending[0].future.result()  # at least one chunk decoded before the network exists
        model = open_lean_model(ckpt["three"], device="cpu", engine="numpy", allocate=handoff.allocate)
        weights = model.engine.state["layers.convolutional-1.weight"]
        assert np.shares_memory(weights, np.frombuffer(handoff._memory, np.uint8))  # read straight in
        assert handoff.publish(model.runs)
        here = []

        def job(pixels):
            here.append(len(pixels))
            return run_all(model.runs, pixels)

        reader.use(job, handed_off=True)
        chunks = list(reader)
    assert [(c.start, c.count) for c in chunks] == [(s, e - s) for s, e in chunk_bounds(len(files), 2, 4, 4)]
    assert chunks[1].problems == {1: "not an image file Pillow can read"}
    if pool == "processes":
        assert here == []                                  # every chunk ran in a worker
        window = reader._window  # chunks sent after the hand-over: only their results came back
        assert len(chunks) > window and all(c.pixels is None for c in chunks[window:])
    expected = ImageReader(files, 12, 3, jobs=1, chunk=4)
    for chunk, plain in zip(chunks, expected):
        keep = [i for i in range(plain.count) if i not in plain.problems]
        (outputs,) = chunk.result
        np.testing.assert_allclose(outputs["label"], model.run(plain.pixels[keep])["class"], rtol=1e-5, atol=1e-7)


def test_a_handoff_without_room_leaves_the_work_to_the_parent(ckpt, tmp_path):
    files = _files(ckpt, tmp_path)
    model = open_model(ckpt["three"], device="cpu", engine="numpy")
    handoff = Handoff(100)  # far too small for the weights
    assert not handoff.publish(model.runs)
    assert not handoff.published
    with ImageReader(files, 12, 3, jobs=2, chunk=4, handoff=handoff) as reader:
        reader.use(model.run, handed_off=False)
        chunks = list(reader)
    assert all(c.result is not None for c in chunks)
    for chunk in chunks:
        keep = [i for i in range(chunk.count) if i not in chunk.problems]
        np.testing.assert_allclose(chunk.result["class"], model.run(chunk.pixels[keep])["class"], rtol=1e-6)


def test_kaggle_submit_results_do_not_depend_on_the_workers(ckpt, tmp_path):
    """One process, two workers, the torch engine: the same submission to float precision."""
    from conftest import run_cli

    folder = tmp_path / "test"
    folder.mkdir()
    for i, path in enumerate(sorted((ckpt["binary"].parent / "photos").rglob("*.*")), start=1):
        (folder / f"{i}{path.suffix}").write_bytes(path.read_bytes())
    got = {}
    for name, options in (("one", ["--jobs", "1"]), ("two", ["--jobs", "2"]), ("torch", ["--engine", "torch"])):
        out = tmp_path / f"{name}.csv"
        result = run_cli("kaggle-submit", ckpt["binary"], folder, "-o", out, "--output", "probability", *options)
        assert result.code == 0, result
        got[name] = np.loadtxt(out, delimiter=",", skiprows=1)
    assert len(got["one"]) == 24
    for name in ("two", "torch"):
        np.testing.assert_array_equal(got[name][:, 0], got["one"][:, 0])
        np.testing.assert_allclose(got[name][:, 1], got["one"][:, 1], atol=1e-5)


# ---- the program's quick exit ----------------------------------------------------------------

def test_as_a_program_infer_and_submit_exit_quickly_with_everything_written(ckpt, tmp_path):
    """`nnrun infer`/`kaggle-submit` end without the interpreter's teardown (cli.exit_now_when_done):
    what they print through a pipe and the files they write must still be whole."""
    import json
    import subprocess
    import sys

    photos = sorted((ckpt["three"].parent / "photos").rglob("*.*"))
    run = [sys.executable, "-m", "nnrun"]
    done = subprocess.run(run + ["infer", str(ckpt["three"]), *map(str, photos), "--jobs", "2"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["input"] for line in lines] == [str(p) for p in photos]
    folder = tmp_path / "test"
    folder.mkdir()
    for i, path in enumerate(photos, start=1):
        (folder / f"{i}{path.suffix}").write_bytes(path.read_bytes())
    out = tmp_path / "submission.csv"
    done = subprocess.run(run + ["kaggle-submit", str(ckpt["binary"]), str(folder), "-o", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"wrote {len(photos)} rows" in done.stdout
    assert out.read_text().splitlines()[0] == "id,label" and len(out.read_text().splitlines()) == len(photos) + 1
    done = subprocess.run(run + ["kaggle-submit", str(ckpt["table"]), str(folder), "-o", str(tmp_path / "no.csv")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "error:" in done.stderr and not (tmp_path / "no.csv").exists()
