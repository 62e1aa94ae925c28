"""Fuzzing the readers of what users and strangers hand nnrun: config files (YAML and EDN), CSV
tables, model files, the resume state of a run's last.nnrun and dataset manifests. Whatever the
input, a reader either succeeds or raises UserError; any other exception is a crash, a bug.

The default run is 40 cases per property (a few hundred in all, seconds). `pytest -m slow`
runs every property again with SLOW_EXAMPLES cases each (test_fuzz_slow_run: over 10,000 in
all, a few minutes); NNRUN_FUZZ_EXAMPLES=N runs N per property directly.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from nnrun.errors import UserError  # noqa: E402
from train_fixtures import write_dataset  # noqa: E402

EXAMPLES = int(os.environ.get("NNRUN_FUZZ_EXAMPLES", "40"))
SLOW_EXAMPLES = 1300  # per property in the slow run: 9 properties, 11,700 cases
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 40, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# plain data as configs, manifests and payloads hold it, numbers at their extremes included
scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
                    st.sampled_from(["input", "linear", "relu", "softmax", "linear->softmax", "id", "data",
                                     "same", "adam", "auto", "standardize", "images", "table"]))
plain = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=12)


def _accepts_or_refuses(read, *args):
    """Run a reader: success and UserError are fine, anything else fails the test."""
    try:
        read(*args)
    except UserError as mistake:
        assert str(mistake).strip(), "an empty message"


@pytest.fixture(scope="module")
def scratch():
    folder = Path(tempfile.mkdtemp(prefix="nnrun-fuzz-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


# ---- configs

YAML_PIECES = st.sampled_from(["network:", "\n", "  - ", "input: ", "{width: 4}", "linear->softmax: 2", "[", "]",
                               "{", "}", ": ", ", ", "&a ", "*a", "!!python/object:os.system", ".nan", ".inf",
                               "1e999", "99999999999999999999", "-1", "'", '"', "#", "?", "train:", " seed: ",
                               "data: ", "\t", "---", "...", "|", ">"])
EDN_PIECES = st.sampled_from(["[", "]", "(", ")", "{", "}", "(input 4)", "(linear->softmax 2)", ":network", ":id",
                              ":data", "##NaN", "##Inf", "1e400", "100000000000000000000N", "1.5M", "#{1 2}",
                              "#inst \"2020\"", "#uuid \"x\"", "\\a", "\"", ";", "#_", "nil", "true", " ", "\n",
                              "(def net ", "layers/relu", "#tag 1", "'"])


def _check_config(scratch, name, text):
    from nnrun.config.spec import load_spec

    path = scratch / name
    path.write_text(text, encoding="utf-8", errors="surrogateescape")
    _accepts_or_refuses(load_spec, path)


@FUZZ
@given(st.lists(YAML_PIECES, max_size=30).map("".join))
def test_fuzz_yaml_text(scratch, text):
    _check_config(scratch, "c.yaml", text)


@FUZZ
@given(st.dictionaries(st.sampled_from(["network", "data", "train", "name", "description", "sweep?"]), plain,
                       max_size=4))
def test_fuzz_yaml_structure(scratch, data):
    import yaml

    data.setdefault("network", [{"input": 4}, {"linear->softmax": 2}])
    _check_config(scratch, "c.yaml", yaml.safe_dump(data))


@FUZZ
@given(st.lists(EDN_PIECES, max_size=30).map("".join))
def test_fuzz_edn_text(scratch, text):
    _check_config(scratch, "c.edn", text)


@FUZZ
@given(plain)
def test_fuzz_network_descriptions(layers):
    from nnrun.network.plan import plan_network

    description = [{"input": 4}] + (layers if isinstance(layers, list) else [layers])
    _accepts_or_refuses(plan_network, description)


# ---- CSV tables

CSV_CELLS = st.one_of(st.sampled_from(["1", "0", "-2.5", "1e39", "1e308", "nan", "inf", "", " ", "x", "label",
                                       '"', '"a,b"', "\x00", "é", "\r"]),
                      st.text(max_size=5))


@FUZZ
@given(header=st.lists(CSV_CELLS, min_size=1, max_size=4),
       rows=st.lists(st.lists(CSV_CELLS, max_size=5), max_size=8),
       compression=st.sampled_from(["", ".gz", ".zip"]))
def test_fuzz_csv_tables(scratch, header, rows, compression):
    import gzip
    import zipfile

    from nnrun.data.prepare.csv import CsvOptions, prepare_csv

    text = "\n".join(",".join(row) for row in [header] + rows)
    path = scratch / f"t.csv{compression}"
    data = text.encode("utf-8", errors="surrogateescape")
    if compression == ".gz":
        path.write_bytes(gzip.compress(data))
    elif compression == ".zip":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("t.csv", data)
    else:
        path.write_bytes(data)
    out = scratch / "out"
    shutil.rmtree(out, ignore_errors=True)
    options = CsvOptions(label=header[-1], test_size=1, seed=0)
    _accepts_or_refuses(lambda: prepare_csv(path, out, options, command="fuzz", force=True, quiet=True))
    assert not (scratch / "out.partial").exists()


# ---- model files

@pytest.fixture(scope="module")
def model_payload(scratch):
    from nnrun.checkpoint import read_checkpoint
    from nnrun.data.preprocess import Preprocessing
    from nnrun.model_io import save_model
    from nnrun.network.build import build_network
    from nnrun.network.plan import plan_network

    path = scratch / "model.nnrun"
    plan = plan_network([{"input": {"width": 3, "id": "data"}}, {"linear->softmax": {"output-size": 2, "id": "y"}}])
    save_model(path, build_network(plan), classes=["a", "b"], positive="b", threshold=0.5,
               preprocessing=Preprocessing("table", "standardize", [0.0] * 3, [1.0] * 3, ["f1", "f2", "f3"]),
               graph=False)
    return read_checkpoint(path, arrays="numpy")


def _written_with(payload, field, value, path):
    """`payload` with `value` put at the key path `field`, written to `path` with a fresh checksum."""
    import copy

    from nnrun.checkpoint import write_checkpoint

    payload = copy.deepcopy(payload)
    node = payload
    for key in field[:-1]:
        node = node[key]
    node[field[-1]] = value
    try:
        write_checkpoint(path, payload)
    except ValueError:  # the writer refuses integers beyond 64 bits: no file of that kind exists
        hypothesis.assume(False)
    return path


FIELDS = [("classes",), ("positive",), ("threshold",), ("epoch",), ("train",), ("metrics",), ("dataset",),
          ("network",), ("network", 0), ("network", 1), ("tensors",), ("onnx",), ("kind",), ("preprocessing",),
          ("preprocessing", "kind"), ("preprocessing", "mode"), ("preprocessing", "mean"), ("preprocessing", "std"),
          ("preprocessing", "features"), ("preprocessing", "image-size"), ("preprocessing", "channels")]


@FUZZ
@given(field=st.sampled_from(FIELDS), value=plain)
def test_fuzz_model_file_contents(scratch, model_payload, field, value):
    from nnrun.data.preprocess import Preprocessing
    from nnrun.model_io import read_model

    path = _written_with(model_payload, field, value, scratch / "fuzzed.nnrun")

    def read_and_use():
        model = read_model(path)
        Preprocessing.from_dict(model["preprocessing"]).scale_and_shift()

    _accepts_or_refuses(read_and_use)


@FUZZ
@given(st.binary(max_size=300), st.integers(min_value=0, max_value=400))
def test_fuzz_model_file_bytes(scratch, model_payload, junk, at):
    """Bytes spliced into a real model file, or a file of junk alone."""
    from nnrun.checkpoint import write_checkpoint
    from nnrun.model_io import read_model

    path = scratch / "spliced.nnrun"
    write_checkpoint(path, model_payload)
    data = path.read_bytes()
    path.write_bytes(data[:at] + junk + data[at + len(junk):] if at else junk)
    _accepts_or_refuses(read_model, path)


# ---- the resume state of a run's last.nnrun

@pytest.fixture(scope="module")
def resumable(scratch):
    """(a trained run's folder, its session as `--resume` makes it, its last.nnrun payload)."""
    from conftest import run_cli
    from nnrun.config.spec import load_spec
    from nnrun.train.loop import load_resume_payload
    from nnrun.train.session import open_session
    from train_fixtures import TABLE_NETWORK, blobs, write_config

    data = blobs(scratch / "blobs", n=(60, 20, 0))
    config = write_config(scratch / "r.yaml", TABLE_NETWORK, data, epoch_count=2, epoch_size=40, batch_size=20,
                          schedule={"type": "step", "step-size": 1, "gamma": 0.5})
    assert run_cli("train", config, "--run-dir", scratch / "run", "-q").code == 0
    session = open_session(load_spec(scratch / "run" / "config.yaml"))
    return scratch / "run", session, load_resume_payload(scratch / "run" / "last.nnrun")


RESUME_FIELDS = [("epoch",), ("optimizer",), ("optimizer", "state"), ("optimizer", "param_groups"),
                 ("optimizer", "param_groups", 0), ("optimizer", "param_groups", 0, "lr"),
                 ("optimizer", "param_groups", 0, "betas"), ("optimizer", "param_groups", 0, "eps"),
                 ("optimizer", "param_groups", 0, "amsgrad"), ("optimizer", "param_groups", 0, "params"),
                 ("optimizer", "param_groups", 0, "fused"), ("optimizer", "state", 0),
                 ("optimizer", "state", 0, "step"), ("optimizer", "state", 0, "exp_avg"), ("schedule",),
                 ("schedule", "last_epoch"), ("schedule", "_last_lr"), ("sampler",), ("sampler", "kind"),
                 ("sampler", "generator"), ("sampler", "turn"), ("sampler", "classes"), ("sampler", "streams"),
                 ("sampler", "streams", 0), ("sampler", "streams", 0, "order"), ("sampler", "streams", 0, "cursor"),
                 ("augmenter",), ("augmenter", "generator"), ("rng",), ("rng", "torch"), ("rng", "numpy"),
                 ("rng", "numpy", "keys"), ("rng", "numpy", "pos"), ("rng", "numpy", "cached"), ("best",),
                 ("best", "score"), ("best", "epoch"), ("best", "threshold"), ("since-best",), ("world-size",),
                 ("record",), ("record", "epoch"), ("scaler",), ("training-weights",), ("mixer",)]


def _tensor(values):
    import torch

    shape, dtype, fill = values
    if dtype == torch.bool:
        return torch.zeros(shape, dtype=dtype)
    return torch.full(shape, fill, dtype=torch.float64).to(dtype)


def _tensors():
    import torch

    return st.tuples(st.lists(st.integers(0, 9), max_size=3), st.sampled_from([torch.float32, torch.float64,
                                                                                torch.int64, torch.uint8, torch.bool]),
                     st.one_of(st.integers(0, 255), st.floats(allow_nan=True, allow_infinity=True))).map(_tensor)


@FUZZ
@given(field=st.sampled_from(RESUME_FIELDS), value=st.one_of(plain, _tensors()))
def test_fuzz_resume_state(scratch, resumable, field, value):
    """A value put in the resume state, written with a fresh checksum and read back as `--resume`
    does; when it is taken, one optimizer step, a draw of the sampler and of each generator are
    run with it, so what would fail only once training started fails here too."""
    import numpy as np
    import torch

    from nnrun.train.loop import Trainer, load_resume_payload
    from nnrun.train.run_folder import RunFolder

    run, session, payload = resumable
    path = _written_with(payload, ("resume", *field), value, scratch / "fuzzed-last.nnrun")

    def restore_and_use():
        Trainer(session, RunFolder.existing(run), quiet=True, resume=load_resume_payload(path))
        for parameter in session.network.parameters():
            parameter.grad = torch.ones_like(parameter)
        session.optimizer.step()
        session.schedule.step(0.5)
        session.sampler.take(7)
        torch.rand(2, generator=session.augmenter.generator), torch.rand(2), np.random.random()

    _accepts_or_refuses(restore_and_use)


# ---- dataset manifests

@pytest.fixture(scope="module")
def dataset(scratch):
    rng = np.random.default_rng(0)
    splits = {name: (rng.normal(size=(n, 3)).astype(np.float32), np.arange(n) % 2) for name, n in (("train", 6), ("test", 4))}
    return write_dataset(scratch / "data", "table", splits, ["no", "yes"], features=["a", "b", "c"])


MANIFEST_FIELDS = [("classes",), ("kind",), ("features",), ("normalisation",), ("normalisation", "mean"),
                   ("normalisation", "std"), ("splits",), ("splits", "test"), ("splits", "test", "count"),
                   ("splits", "test", "x"), ("splits", "test", "y"), ("splits", "test", "class-counts"),
                   ("labelled",), ("image",), ("version",), ("format",)]


@FUZZ
@given(field=st.sampled_from(MANIFEST_FIELDS), value=plain, ids=plain)
def test_fuzz_dataset_manifest(dataset, field, value, ids):
    from nnrun.data.dataset import open_dataset

    original = (dataset / "dataset.json").read_text()
    manifest = json.loads(original)
    node = manifest
    for key in field[:-1]:
        node = node[key]
    node[field[-1]] = value
    if isinstance(manifest.get("splits"), dict) and isinstance(manifest["splits"].get("train"), dict):
        manifest["splits"]["train"]["ids"] = "train.ids.json"
    (dataset / "train.ids.json").write_text(json.dumps(ids))
    try:
        (dataset / "dataset.json").write_text(json.dumps(manifest))

        def open_and_use():
            data = open_dataset(dataset)
            for split in data.split_names:
                data.count(split), data.class_counts(split), data.x(split)
                if data.labelled:
                    data.y(split)
            data.normalisation, data.features, data.image, data.classes
            if data.has_split("train"):
                data.ids("train")

        _accepts_or_refuses(open_and_use)
    finally:
        (dataset / "dataset.json").write_text(original)


# ---- table encodings (dataset.json and model files carry one)

ENCODING = {"version": 1, "missing": ["", "NA", "?"], "dropped": [],
            "columns": [{"name": "age", "kind": "number", "fill": [41.0], "missing-indicator": True},
                        {"name": "city", "kind": "category", "levels": ["Lyon", "Paris"]},
                        {"name": "member", "kind": "binary", "levels": ["no", "yes"], "fill": [1.0],
                         "missing-indicator": False},
                        {"name": "joined", "kind": "date", "parts": ["year", "month", "days"], "format": "ISO8601",
                         "fill": [2015.0, 6.0, 16600.0], "missing-indicator": True}]}
ENCODING_FIELDS = [("missing",), ("columns",), ("columns", 0), ("columns", 0, "kind"), ("columns", 0, "fill"),
                   ("columns", 0, "missing-indicator"), ("columns", 1, "levels"), ("columns", 1, "name"),
                   ("columns", 2, "levels"), ("columns", 2, "fill"), ("columns", 3, "parts"),
                   ("columns", 3, "format"), ("columns", 3, "fill"), ("headerless",), ("label",)]


@FUZZ
@given(field=st.sampled_from(ENCODING_FIELDS), value=plain)
def test_fuzz_table_encoding(field, value):
    """An edited encoding is refused in one line or encodes raw rows without a traceback."""
    import copy

    import pandas as pd

    from nnrun.data.table.encoding import TableEncoding, encode_frame
    from nnrun.data.table.encoding_check import check_encoding

    encoding = copy.deepcopy(ENCODING)
    node = encoding
    for key in field[:-1]:
        node = node[key]
    node[field[-1]] = value
    features = TableEncoding.from_dict(ENCODING).features

    def fail(where, problem):
        raise UserError(f"dataset.json: {where}: {problem}")

    def check_and_encode():
        check_encoding(encoding, features, fail)
        frame = pd.DataFrame({"age": ["30", "", "?"], "city": ["Paris", "Nice", None],
                              "member": ["yes", "maybe", ""], "joined": ["2014-02-03", "x", ""]})
        encode_frame(TableEncoding.from_dict(encoding), frame, "rows.csv")

    _accepts_or_refuses(check_and_encode)


@pytest.mark.slow
def test_fuzz_slow_run():
    """Every property above with SLOW_EXAMPLES cases each (Hypothesis' own count: see its
    statistics in the output with -s)."""
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not slow",
                             "--hypothesis-show-statistics", __file__], capture_output=True, text=True,
                            env={**os.environ, "NNRUN_FUZZ_EXAMPLES": str(SLOW_EXAMPLES)}, cwd=Path(__file__).parent)
    print(result.stdout[-20000:])
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
